package tlsutil

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGenerateNames: a host name becomes a DNS name of the certificate, an
// address (such as --dev's 127.0.0.1) an IP address, never a DNS name.
func TestGenerateNames(t *testing.T) {
	for _, tc := range []struct {
		host     string
		dns      []string
		extraIPs []string
	}{
		{"panel.example", []string{"localhost", "panel.example"}, nil},
		{"localhost", []string{"localhost"}, nil},
		{"127.0.0.1", []string{"localhost"}, nil},
		{"192.0.2.7", []string{"localhost"}, []string{"192.0.2.7"}},
	} {
		t.Run(tc.host, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Load("", "", dir, tc.host); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, CertFile))
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(data)
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cert.DNSNames, tc.dns) {
				t.Errorf("DNS names %q, want %q", cert.DNSNames, tc.dns)
			}
			want := append([]string{"127.0.0.1", "::1"}, tc.extraIPs...)
			var got []string
			for _, ip := range cert.IPAddresses {
				got = append(got, ip.String())
			}
			if !slices.Equal(got, want) {
				t.Errorf("IP addresses %q, want %q", got, want)
			}
			if err := cert.VerifyHostname("127.0.0.1"); err != nil {
				t.Errorf("127.0.0.1: %v", err)
			}
		})
	}
}
