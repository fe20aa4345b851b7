package passwd

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testutil"
)

const (
	pwASCII   = "Alice-pass-1"
	pwUnicode = "Pässwörd-1 日本"
	// pwLong is 83 bytes: longer than bcrypt's 72-byte limit.
	pwLong = "01234567890123456789012345678901234567890123456789012345678901234567890123456789xyz"
)

// known holds hashes made by real tools (mkpasswd 5.5.17 from Debian's whois
// package, argon2 from Debian's argon2 package) for the passwords above, so
// that the test means something even where those tools are missing.
var known = []struct {
	name, hash, password string
}{
	{"sha512crypt", "$6$3SEXnFBYReeZKw/0$LylmlhH1QR/8ptqJOR/4nmv2ZeSSm2Ot96M0H0UBCVVS7tPHEbhSOEfMRVnG9FDEGvCDknBMghfiQ8W1AGc4j/", pwASCII},
	{"sha512crypt", "$6$AYUjW0etz.UfcW.h$zAutUkVJkbjHiFzX.uK.7qdB56vHiVk7lFvL3AFrhKRWUN0uEwN9jIW7yczXW/2CAjiiJZbG/Sas9GqNeIP97.", pwUnicode},
	{"sha512crypt", "$6$aoe8UOlu9IGoO7vG$aLJVd/ERc6aPzbCgX.KSe6fqVqqL1FXNV21IR8ULh9Zsj5IdpcVOXnMjd5D7n5bXi7AqMHzejQZMlbacifEUT.", pwLong},
	{"sha512crypt rounds=10000", "$6$rounds=10000$XdZihkHgKj.66hkg$EumboqbmEm78sov9rGj0.LOj0bBWIf5zEHdLz9v0N3MK4S3Fbp6OxcFnQHH.Reu.NHMg.yomvkFCH8LTxtMy31", pwASCII},
	{"sha512crypt rounds=10000", "$6$rounds=10000$2t.u.Nl0FGReg3wL$UHc8u0AlINFFS9yVW.mHqWEZBsilH87YR22Y2QAK8TgiWsiep0u8D66kAf7Yl3If0/Z8LEEr8yaIgeEZGGm/W1", pwUnicode},
	{"sha512crypt rounds=10000", "$6$rounds=10000$SvZKENGHbAf1z7qP$LwHMlbPsXwilwyhrMkNY714lLhoeR/7O.RkRydlOFKVDaJ379MfruDzxZM2EBqkzWP.wCHqPKhBhtisV4/xdf/", pwLong},
	{"sha256crypt", "$5$RPUTa.y53w1D0DWM$SX8YepxcE5nDnzsreArp212zmA2OCqzOWqJCAmxhW08", pwASCII},
	{"sha256crypt", "$5$brWmPvbu.Rwtqq7j$KaAbDrP54On4Hv6cOtna9gesJBMcZfUhZolsyl0bPo2", pwUnicode},
	{"sha256crypt", "$5$GwoivdUaJZjtM43l$k7v90Jt7Vt.3MhgKnpvXX9w0ECXVMBRXqBKAlooVQ..", pwLong},
	{"md5crypt", "$1$mPjYXhV7$OSsxhPZ0Y9LJe2QVo.9qL/", pwASCII},
	{"md5crypt", "$1$VJwqFnhO$jKsTuVfu8G7JXIrd1xmmz1", pwUnicode},
	{"md5crypt", "$1$BSwqK/Qh$GaYIYD.n3uX1uvAe7HxVc.", pwLong},
	{"yescrypt", "$y$j9T$BymCwOxzOpjPhJApkx7xo0$Y70m36mFZSCHcRGic2q8MpMQQYcVNDIhOyOMfZuupWB", pwASCII},
	{"yescrypt", "$y$j9T$kD8RsJzL0LHpdHeow22p70$pvagevMj19bifhTjddwn1tWvfFL9QM2Z2OTNQuHYyY4", pwUnicode},
	{"yescrypt", "$y$j9T$9mqPghuvwpU8xrOGVNfAk.$pjgAOfJOn8nJjNEsdXf5Oh3Yn7zc8gy/mcPY3CpA5H0", pwLong},
	{"yescrypt cost 7", "$y$jBT$2qflW5mTjz7MjYIbPUr/I.$Ro.ZdkSyCLMXkMBE8uf3HChcofhB5UMuD1dATWfXEz6", "Pässwörd-1"},
	{"bcrypt 2b", "$2b$05$CL85KOCt.N1QEn1xekOJUOBUolqRcfRLcweB3DuWaklXF80pT9s12", pwASCII},
	{"bcrypt 2b", "$2b$05$exPpNHkUtibtHaJSDjxyr.UMVLrgYwx39.v./wdeQhw77EhpClKw6", pwUnicode},
	{"bcrypt 2b", "$2b$05$8/UMWqmYvukY.aiDrxqvOevmGjKJ2L8zkd9SPdIcLQIuQsVOTUw0C", pwLong},
	{"bcrypt 2a", "$2a$05$BD/Uzrla6C8Rr9Y.rrH0uO7gJJ6OXhdgNXM0jZGWoQqXPtgZXyoG.", "Pässwörd-1"},
	// "$2y$" (PHP's password_hash) is the same algorithm as "$2b$": the
	// mkpasswd hash above with the other tag.
	{"bcrypt 2y", "$2y$05$CL85KOCt.N1QEn1xekOJUOBUolqRcfRLcweB3DuWaklXF80pT9s12", pwASCII},
	{"argon2id", "$argon2id$v=19$m=4096,t=2,p=1$SkFOVVlHcGtudFY0ZmphOQ$wG+xTWkvwxxR5CpkgIaXsktPZlZyW0TkUMj51oeGYzg", pwASCII},
	{"argon2id", "$argon2id$v=19$m=4096,t=2,p=1$YWhUZlMxbmNtVUNPWm1OZA$FUEER/4DUMNcIMFB+lsqDozQYlaCUCNObC1jZHC7Q6s", pwUnicode},
	{"argon2id", "$argon2id$v=19$m=4096,t=2,p=1$QWFpQXkzNFI5eWZyck9E$KdDT3jAuiIEUAwymZ2/H0YKSKRvsIm8lM9K2h2PKNgk", pwLong},
	{"dovecot {SHA512-CRYPT}", "{SHA512-CRYPT}$6$3SEXnFBYReeZKw/0$LylmlhH1QR/8ptqJOR/4nmv2ZeSSm2Ot96M0H0UBCVVS7tPHEbhSOEfMRVnG9FDEGvCDknBMghfiQ8W1AGc4j/", pwASCII},
	{"dovecot {CRYPT}", "{CRYPT}$y$j9T$BymCwOxzOpjPhJApkx7xo0$Y70m36mFZSCHcRGic2q8MpMQQYcVNDIhOyOMfZuupWB", pwASCII},
}

func TestVerifyKnownHashes(t *testing.T) {
	t.Parallel()
	for _, tc := range known {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !Verify(tc.hash, tc.password) {
				t.Errorf("Verify(%s, right password) = false", tc.hash)
			}
			// Wrong passwords differ early: bcrypt ignores bytes past the
			// 72nd. yescrypt is slow (more so under -race): one will do.
			wrongs := []string{"x" + tc.password, "", "\x00" + tc.password[1:], tc.password[1:]}
			if strings.Contains(tc.hash, "$y$") {
				wrongs = wrongs[:1]
			}
			for _, wrong := range wrongs {
				if Verify(tc.hash, wrong) {
					t.Errorf("Verify(%s, %q) = true for a wrong password", tc.hash, wrong)
				}
			}
			if Verify("!"+tc.hash, tc.password) {
				t.Errorf("locked hash !%s verified", tc.hash)
			}
			if Verify("*"+tc.hash, tc.password) {
				t.Errorf("hash *%s verified", tc.hash)
			}
			if Scheme(tc.hash) == "" {
				t.Errorf("Scheme(%s) = \"\"", tc.hash)
			}
		})
	}
}

func TestBcryptTruncatesAt72Bytes(t *testing.T) {
	t.Parallel()
	// bcrypt (and libxcrypt's implementation that mkpasswd uses) only reads
	// the first 72 bytes of a password.
	h := "$2b$05$8/UMWqmYvukY.aiDrxqvOevmGjKJ2L8zkd9SPdIcLQIuQsVOTUw0C"
	if !Verify(h, pwLong[:72]+"anything") {
		t.Error("bcrypt did not ignore bytes past the 72nd")
	}
	if Verify(h, pwLong[:71]) {
		t.Error("bcrypt accepted a 71-byte prefix")
	}
}

// mkpasswd runs the real mkpasswd with the password on standard input.
func mkpasswd(t *testing.T, tool, password string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, append(args, "-s")...)
	cmd.Stdin = strings.NewReader(password)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mkpasswd %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func TestVerifyMkpasswd(t *testing.T) {
	tool := testutil.RequireTool(t, "mkpasswd")
	methods := []struct {
		args   []string
		prefix string
	}{
		{[]string{"-m", "sha512crypt"}, "$6$"},
		{[]string{"-m", "sha512crypt", "-R", "10000"}, "$6$rounds=10000$"},
		{[]string{"-m", "sha256crypt"}, "$5$"},
		{[]string{"-m", "md5crypt"}, "$1$"},
		{[]string{"-m", "yescrypt"}, "$y$"},
		{[]string{"-m", "bcrypt"}, "$2b$"},
		{[]string{"-m", "bcrypt-a"}, "$2a$"},
	}
	passwords := []string{pwASCII, pwUnicode, pwLong, " spaces at both ends ", "ü", `quote"back\slash'`}
	for _, m := range methods {
		t.Run(strings.Join(m.args, " "), func(t *testing.T) {
			t.Parallel()
			pws := passwords
			if m.prefix == "$y$" {
				pws = pws[:3] // slow under -race
			}
			for _, pw := range pws {
				h := mkpasswd(t, tool, pw, m.args...)
				if !strings.HasPrefix(h, m.prefix) {
					t.Fatalf("mkpasswd %v wrote %q, want prefix %q", m.args, h, m.prefix)
				}
				if !Verify(h, pw) {
					t.Errorf("Verify(%s, %q) = false", h, pw)
				}
				if Verify(h, "!"+pw) {
					t.Errorf("Verify(%s, wrong) = true", h)
				}
				if Verify("!"+h, pw) {
					t.Errorf("locked %s verified", h)
				}
			}
		})
	}
}

func TestVerifyArgon2CLI(t *testing.T) {
	tool := testutil.RequireTool(t, "argon2")
	for _, pw := range []string{pwASCII, pwUnicode, pwLong} {
		cmd := exec.Command(tool, "uapidTestSalt16b", "-id", "-t", "2", "-m", "12", "-p", "1", "-e")
		cmd.Stdin = strings.NewReader(pw)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("argon2: %v", err)
		}
		h := strings.TrimSpace(string(out))
		if !strings.HasPrefix(h, "$argon2id$") {
			t.Fatalf("argon2 wrote %q", h)
		}
		if !Verify(h, pw) {
			t.Errorf("Verify(%s, %q) = false", h, pw)
		}
		if Verify(h, pw+"x") {
			t.Errorf("Verify(%s, wrong) = true", h)
		}
	}
}

var newHashRE = regexp.MustCompile(`^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$`)

func TestHash(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, pw := range []string{pwASCII, pwUnicode, pwLong, "", pwASCII} {
		h, err := Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if !newHashRE.MatchString(h) {
			t.Errorf("Hash wrote %q, want $6$<16 salt>$<86 hash>", h)
		}
		if seen[h] {
			t.Errorf("Hash repeated %q", h)
		}
		seen[h] = true
		if !Verify(h, pw) || Verify(h, pw+"x") {
			t.Errorf("Verify does not round-trip Hash for %q", pw)
		}
		if Scheme(h) != "sha512crypt" {
			t.Errorf("Scheme(%s) = %q", h, Scheme(h))
		}
	}
}

// TestHashMatchesMkpasswd checks that a new hash is exactly what mkpasswd
// writes for the same salt.
func TestHashMatchesMkpasswd(t *testing.T) {
	tool := testutil.RequireTool(t, "mkpasswd")
	for _, pw := range []string{pwASCII, pwUnicode, pwLong} {
		h, err := Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		salt := strings.Split(h, "$")[2]
		want := mkpasswd(t, tool, pw, "-m", "sha512crypt", "-S", salt)
		if h != want {
			t.Errorf("Hash = %s, mkpasswd with the same salt = %s", h, want)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	sha := known[0].hash
	cases := []string{
		"",
		"!",
		"*",
		"!!",
		"x",
		"$",
		"$$$$",
		"$6$",
		"$6$$",
		"$6$salt$",
		"$6$rounds=abc$salt$hash",
		"$6$rounds=10$salt$hash",
		"$6$rounds=99999999999999999999$salt$hash",
		"$5$$$$$$$",
		"$1$",
		"$2b$",
		"$2b$99$abcdefghijklmnopqrstuv",
		"$2b$05$short",
		"$2x$05$CL85KOCt.N1QEn1xekOJUOBUolqRcfRLcweB3DuWaklXF80pT9s12",
		"$2$05$CL85KOCt.N1QEn1xekOJUOBUolqRcfRLcweB3DuWaklXF80pT9s12",
		"$y$",
		"$y$j9T$",
		"$y$j9T$$",
		"$y$j9T$salt$",
		"$y$jzz$salt$hash",
		"$y$j9T$sa!t$hash",
		"$y$j9T$BymCwOxzOpjPhJApkx7xo0$Y70m36mFZSCHcRGic2q8MpMQQYcVNDIhOyOMfZuupWB$extra",
		"$y$j9T$BymCwOxzOpjPhJApkx7xo0$Y70m36mFZSCHcRGic2q8MpMQQYcVNDIhOyOMfZuupWC",
		"$argon2id$",
		"$argon2id$v=19$m=0,t=0,p=0$$",
		"$argon2id$v=19$m=4096,t=2,p=1$!!!$!!!",
		"$7$CU..../....abc$xyz",
		"$pbkdf2-sha512$1000$c2FsdA$aGFzaA",
		"$plaintext$" + known[0].password,
		"{PLAIN}" + known[0].password,
		"{SHA512-CRYPT}",
		"{CRYPT}!" + sha,
		known[0].password,
		sha[:len(sha)-1],
		sha + "x",
		strings.Repeat("$6$", 1000),
		"$6$" + strings.Repeat("a", 5000) + "$x",
		"\x00\xff$6$\n",
	}
	for _, h := range cases {
		if Verify(h, known[0].password) {
			t.Errorf("Verify(%q) = true", h)
		}
		if Verify(h, "") {
			t.Errorf("Verify(%q, \"\") = true", h)
		}
	}
}

func FuzzVerify(f *testing.F) {
	for _, tc := range known {
		f.Add(tc.hash, tc.password)
	}
	f.Add("$6$rounds=1000$x$y", "")
	f.Add("$y$j9T$$", "a")
	f.Fuzz(func(t *testing.T, hash, password string) {
		// Keep the fuzzer away from legitimately expensive parameters.
		if strings.Contains(hash, "rounds=") || strings.Contains(hash, "$argon2") || strings.Contains(hash, "$2") {
			return
		}
		if i := strings.Index(hash, "$y$"); i >= 0 && len(hash) > i+4 && !strings.ContainsRune("./0123456789", rune(hash[i+4])) {
			return // yescrypt with more than 16 MiB
		}
		Verify(hash, password) // must not panic
		Scheme(hash)
	})
}

func TestLocked(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]bool{
		"":                  false,
		"!":                 true,
		"!" + known[0].hash: true,
		"!!":                true,
		"*":                 false,
		known[0].hash:       false,
		" !x":               false,
	} {
		if got := Locked(h); got != want {
			t.Errorf("Locked(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestScheme(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]string{
		"":                     "disabled",
		"*":                    "disabled",
		"!$6$x$y":              "locked",
		known[0].hash:          "sha512crypt",
		known[3].hash:          "sha512crypt",
		known[6].hash:          "sha256crypt",
		known[9].hash:          "md5crypt",
		known[12].hash:         "yescrypt",
		known[16].hash:         "bcrypt",
		known[21].hash:         "argon2id",
		"$plaintext$x":         "",
		"$2x$05$abcdefghijklm": "",
		"nonsense":             "",
		"$y$j9T":               "",
	} {
		if got := Scheme(h); got != want {
			t.Errorf("Scheme(%q) = %q, want %q", h, got, want)
		}
	}
}

func BenchmarkVerifySHA512(b *testing.B) {
	h := known[0].hash
	for b.Loop() {
		if !Verify(h, pwASCII) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkVerifyYescrypt(b *testing.B) {
	h := known[12].hash
	for b.Loop() {
		if !Verify(h, pwASCII) {
			b.Fatal("no match")
		}
	}
}
