package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/web"
)

// TestPasswd: the printed lines drop into config.toml's [http] section and
// make a configuration that may listen on every interface.
func TestPasswd(t *testing.T) {
	var hashOut, tokenOut bytes.Buffer
	if err := passwd([]string{"-iterations", "1000"}, strings.NewReader("open sesame\n"), &hashOut); err != nil {
		t.Fatal(err)
	}
	if err := passwd([]string{"-token"}, nil, &tokenOut); err != nil {
		t.Fatal(err)
	}
	tokenLine, hashLine, _ := strings.Cut(tokenOut.String(), "\n")
	token := strings.TrimPrefix(tokenLine, "token = ")
	conf := "[http]\nlisten = \":8080\"\nuser = \"admin\"\n" + hashOut.String() + hashLine
	cfg, err := config.ParseConfig([]byte(conf))
	if err != nil {
		t.Fatalf("config with the printed values: %v\n%s", err, conf)
	}
	if cfg.HTTP.TokenSHA256 != web.HashToken(token) {
		t.Errorf("token_sha256 %q is not the hash of token %q", cfg.HTTP.TokenSHA256, token)
	}
	if !strings.HasPrefix(cfg.HTTP.PasswordHash, "pbkdf2-sha256$1000$") {
		t.Errorf("password_hash %q", cfg.HTTP.PasswordHash)
	}
	if err := passwd(nil, strings.NewReader("\n"), &hashOut); err == nil {
		t.Error("an empty password was hashed")
	}
}

func TestServeRefusesOpenPublicListener(t *testing.T) {
	_, err := config.ParseConfig([]byte("[http]\nlisten = \"0.0.0.0:8080\"\n"))
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("ParseConfig = %v, want the non-loopback refusal", err)
	}
}
