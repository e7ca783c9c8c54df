package web

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h := testHash(t)
	if !strings.HasPrefix(h, "pbkdf2-sha256$1000$") {
		t.Fatalf("hash %q lacks the scheme and iteration count", h)
	}
	ph, err := parsePasswordHash(h)
	if err != nil {
		t.Fatal(err)
	}
	if !ph.verify(testPassword) {
		t.Error("the password does not verify against its hash")
	}
	for _, wrong := range []string{"", "s3cret", testPassword + " ", strings.ToUpper(testPassword)} {
		if ph.verify(wrong) {
			t.Errorf("%q verifies", wrong)
		}
	}
	if h2 := testHash(t); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

var badHashes = []struct{ name, hash string }{
	{"empty", ""},
	{"other scheme", "bcrypt$10$abc$def"},
	{"missing part", "pbkdf2-sha256$1000$c2FsdHNhbHQ"},
	{"zero iterations", "pbkdf2-sha256$0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"},
	{"absurd iterations", "pbkdf2-sha256$99999999999$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"},
	{"short salt", "pbkdf2-sha256$1000$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5"},
	{"bad base64", "pbkdf2-sha256$1000$!!!!!!!!!!!$a2V5a2V5a2V5a2V5a2V5a2V5"},
	{"short key", "pbkdf2-sha256$1000$c2FsdHNhbHQ$a2V5"},
}

func TestParsePasswordHashErrors(t *testing.T) {
	for _, tt := range badHashes {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parsePasswordHash(tt.hash); !errors.Is(err, ErrBadHash) {
				t.Errorf("error %v, want ErrBadHash", err)
			}
		})
	}
}

func FuzzParsePasswordHash(f *testing.F) {
	for _, tt := range badHashes {
		f.Add(tt.hash)
	}
	f.Add("pbkdf2-sha256$1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePasswordHash(s)
		if err != nil {
			return
		}
		if h.iterations < 1 || h.iterations > maxIterations || len(h.salt) < 8 || len(h.key) < 16 || len(h.key) > 64 {
			t.Fatalf("accepted out-of-bounds hash %q: %+v", s, h)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	hash := testHash(t)
	for _, tt := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"loopback, open", Config{Listen: "127.0.0.1:8080"}, nil},
		{"localhost, open", Config{Listen: "localhost:8080"}, nil},
		{"ipv6 loopback, open", Config{Listen: "[::1]:8080"}, nil},
		{"all interfaces, open", Config{Listen: ":8080"}, ErrInsecureListen},
		{"public address, open", Config{Listen: "192.0.2.1:8080"}, ErrInsecureListen},
		{"any address, open", Config{Listen: "0.0.0.0:8080"}, ErrInsecureListen},
		{"public address, password", Config{Listen: ":8080", User: "admin", PasswordHash: hash}, nil},
		{"public address, token", Config{Listen: ":8080", TokenSHA256: HashToken("t")}, nil},
		{"user without password", Config{Listen: "127.0.0.1:8080", User: "admin"}, ErrUserWithoutPassword},
		{"password without user", Config{Listen: "127.0.0.1:8080", PasswordHash: hash}, ErrUserWithoutPassword},
		{"bad hash", Config{Listen: "127.0.0.1:8080", User: "admin", PasswordHash: "plain"}, ErrBadHash},
		{"bad token hash", Config{Listen: "127.0.0.1:8080", TokenSHA256: "abc"}, ErrBadToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSessionsBounded(t *testing.T) {
	a, err := newAuth(Config{User: testUser, PasswordHash: testHash(t)})
	if err != nil {
		t.Fatal(err)
	}
	now := testNow()
	for range maxSessions + 10 {
		a.newSession(now)
	}
	if n := len(a.sessions); n != maxSessions {
		t.Fatalf("%d sessions kept, want the bound %d", n, maxSessions)
	}
}

func TestBasicAuthCacheBounded(t *testing.T) {
	a, err := newAuth(Config{User: testUser, PasswordHash: testHash(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !a.checkPassword(testUser, testPassword) || !a.checkPassword(testUser, testPassword) {
		t.Fatal("right password refused")
	}
	if a.checkPassword(testUser, "wrong") || a.checkPassword("other", testPassword) {
		t.Fatal("wrong credentials accepted")
	}
	if n := len(a.verified); n != 1 {
		t.Fatalf("%d cached verifications, want only the successful one", n)
	}
}
