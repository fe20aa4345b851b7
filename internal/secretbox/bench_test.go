package secretbox_test

import (
	"testing"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
)

// benchSecrets are the secrets the shared session stores seal in every
// record, with the contexts the stores bind them to.
func benchSecrets() []struct{ name, plain, context string } {
	id := session.NewID()
	_, tempPass := session.NewTempUser("alice")
	return []struct{ name, plain, context string }{
		{"TempPass", tempPass, "uapid/session/" + id + "/temp_pass"},
		{"ReturnURL", "https://alice.example/back?x=1&y=\u00e9", "uapid/session/" + id + "/return_url"},
	}
}

func benchBox(b *testing.B) *secretbox.Box {
	b.Helper()
	box, err := secretbox.New(secretbox.NewKey(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return box
}

// BenchmarkSeal: SealString of a record's secret, as Create does.
func BenchmarkSeal(b *testing.B) {
	box := benchBox(b)
	for _, s := range benchSecrets() {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(box.SealString(s.plain, s.context)) != len(s.plain)+secretbox.Overhead {
					b.Fatal("sealed value of the wrong length")
				}
			}
		})
	}
}

// BenchmarkOpen: OpenString of a sealed secret, as every lookup does.
func BenchmarkOpen(b *testing.B) {
	box := benchBox(b)
	for _, s := range benchSecrets() {
		b.Run(s.name, func(b *testing.B) {
			sealed := box.SealString(s.plain, s.context)
			b.ReportAllocs()
			for b.Loop() {
				got, err := box.OpenString(sealed, s.context)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != len(s.plain) {
					b.Fatal("opened value of the wrong length")
				}
			}
		})
	}
}
