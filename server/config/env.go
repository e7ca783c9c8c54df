package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// EnvPrefix starts the names of the environment variables that override
// configuration keys, for containers, where a variable is easier to set
// than a file is to mount.
const EnvPrefix = "NIMBUS_"

// EnvName is the environment variable that overrides a key: EnvPrefix and
// the key's dotted path upper-cased, dots as underscores (rtmp.listen:
// NIMBUS_RTMP_LISTEN; apps_dir: NIMBUS_APPS_DIR), as mediamtx names its
// MTX_ variables.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// ApplyEnv overrides c with the NIMBUS_ variables of environ, given in
// os.Environ's "NAME=value" form. Every key with a value has one (see
// EnvName); the [[app]] list is the file's alone. A variable set to ""
// sets the key to empty (NIMBUS_RTMFP_LISTEN= turns RTMFP off), where an
// unset one leaves it. Values follow TOML's rules for the key's type, but
// a string is written bare: durations as Go durations ("10s"), booleans
// true or false, numbers as TOML numbers, and a list of strings either
// comma-separated ("a:1935, b:1935", "" for none) or, starting with "[",
// as a TOML array (which an IPv6 address needs: ["[::1]:1935"]).
//
// It returns the NIMBUS_ variables that name no key, for the caller to
// warn about: a stray variable does not stop the server, as in mediamtx,
// but a misspelt override must not pass unnoticed either (mediamtx ignores
// it silently). The result is not validated: the caller applies its flags
// and then Validate.
func (c *Config) ApplyEnv(environ []string) (unknown []string, err error) {
	fields := map[string]configKey{}
	for _, k := range configKeys() {
		name := EnvName(k.path)
		if other, ok := fields[name]; ok {
			return nil, fmt.Errorf("config: %s would override both %s and %s", name, other.path, k.path)
		}
		fields[name] = k
	}
	v := reflect.ValueOf(c).Elem()
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		k, ok := fields[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if err := setEnvValue(v.FieldByIndex(k.index), value); err != nil {
			return unknown, fmt.Errorf("config: %s (%s): %w", name, k.path, err)
		}
	}
	return unknown, nil
}

// setEnvValue parses s into the configuration field f (see ApplyEnv).
func setEnvValue(f reflect.Value, s string) error {
	switch {
	case f.Kind() == reflect.String:
		f.SetString(s)
		return nil
	case f.Addr().Type().Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
		// TOML writes these as strings, as Duration: "10s".
		return f.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String && !strings.HasPrefix(strings.TrimSpace(s), "["):
		list := reflect.MakeSlice(f.Type(), 0, strings.Count(s, ",")+1)
		if strings.TrimSpace(s) != "" {
			for item := range strings.SplitSeq(s, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					return fmt.Errorf("%q has an empty item", s)
				}
				list = reflect.Append(list, reflect.ValueOf(item).Convert(f.Type().Elem()))
			}
		}
		f.Set(list)
		return nil
	}
	// Anything else is decoded as the TOML value it would be in the
	// file, by the same decoder, so that its rules (number syntax,
	// ranges, booleans) are the file's.
	holder := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.Type(), Tag: `toml:"v"`}}))
	dec := toml.NewDecoder(strings.NewReader("v = " + s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(holder.Interface()); err != nil {
		return fmt.Errorf("%q is not a TOML %s: %w", s, f.Type(), err)
	}
	f.Set(holder.Elem().Field(0))
	return nil
}
