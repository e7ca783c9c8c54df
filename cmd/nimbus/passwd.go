package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/nimbus-media/nimbus/web"
)

// passwd prints the [http] configuration values for admin credentials: the
// hash of a password read as one line from in, or with -token a new random
// bearer token and its hash.
func passwd(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	token := fs.Bool("token", false, "make a random API token instead and print it with its hash")
	iterations := fs.Int("iterations", web.DefaultIterations, "PBKDF2 iterations")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token {
		t := web.NewToken()
		_, err := fmt.Fprintf(out, "token = %s\ntoken_sha256 = %q\n", t, web.HashToken(t))
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("passwd: empty password (give it as one line on standard input)")
	}
	hash, err := web.HashPassword(password, *iterations)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "password_hash = %q\n", hash)
	return err
}
