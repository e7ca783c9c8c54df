package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nimbus-media/nimbus/apps/auth"
)

// token mints a signed, expiring stream name for an app with token_secret.
func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	secret := fs.String("secret", "", "the app's token_secret")
	app := fs.String("app", "live", "application name")
	ttl := fs.Duration("ttl", time.Hour, "how long the token stays valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" || fs.NArg() != 1 {
		return errors.New("usage: nimbus token -secret SECRET [-app live] [-ttl 1h] STREAM")
	}
	fmt.Println(auth.SignedName(*secret, *app, fs.Arg(0), time.Now().Add(*ttl)))
	return nil
}
