package protocol

import (
	"errors"
	"fmt"

	"github.com/nimbus-media/nimbus/amf"
)

// Command is a decoded command message: RTMP types 20 and 17, or an RTMFP TC
// command. Layout (RTMP commands draft §4): name, transaction ID, command
// object (usually null), then arguments.
type Command struct {
	Name   string
	TxnID  float64
	Object any // command object: amf.Object or nil
	Args   []any
}

// Arg returns argument i, or nil when there are fewer arguments.
func (c *Command) Arg(i int) any {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return nil
}

// ArgString returns argument i when it is a string.
func (c *Command) ArgString(i int) string {
	s, _ := c.Arg(i).(string)
	return s
}

// ArgNumber returns argument i when it is a number.
func (c *Command) ArgNumber(i int) (float64, bool) {
	n, ok := c.Arg(i).(float64)
	return n, ok
}

// ErrNotCommand is returned for a payload that does not start with a command name.
var ErrNotCommand = errors.New("protocol: not a command")

// DecodeCommand decodes a command or data payload of type t (17/20 or 15/18).
// For the AMF3 variants the leading format byte is skipped; values inside are
// AMF0 with 0x11 switches to AMF3, as the errata §7.2 describes. Data messages
// have no transaction ID: their fields go to Args.
func DecodeCommand(d *amf.Decoder, t Type, payload []byte) (Command, error) {
	if (t == TypeCommandAMF3 || t == TypeDataAMF3) && len(payload) > 0 && payload[0] == 0 {
		payload = payload[1:]
	}
	d.Reset(payload)
	var c Command
	v, err := d.DecodeAMF0()
	if err != nil {
		return c, fmt.Errorf("command name: %w", err)
	}
	name, ok := v.(string)
	if !ok {
		return c, ErrNotCommand
	}
	c.Name = name
	if t == TypeCommandAMF0 || t == TypeCommandAMF3 {
		if d.Len() > 0 {
			if v, err = d.DecodeAMF0(); err != nil {
				return c, fmt.Errorf("command %q transaction: %w", name, err)
			}
			c.TxnID, _ = v.(float64)
		}
		if d.Len() > 0 {
			if c.Object, err = d.DecodeAMF0(); err != nil {
				return c, fmt.Errorf("command %q object: %w", name, err)
			}
		}
	}
	for d.Len() > 0 {
		if v, err = d.DecodeAMF0(); err != nil {
			return c, fmt.Errorf("command %q argument %d: %w", name, len(c.Args), err)
		}
		c.Args = append(c.Args, v)
	}
	return c, nil
}

// AppendCommand appends an AMF0 command payload (type 20): name, transaction
// ID, command object, arguments.
func AppendCommand(b []byte, name string, txn float64, obj any, args ...any) ([]byte, error) {
	var err error
	if b, err = amf.AppendAMF0(b, name); err != nil {
		return b, err
	}
	if b, err = amf.AppendAMF0(b, txn); err != nil {
		return b, err
	}
	if b, err = amf.AppendAMF0(b, obj); err != nil {
		return b, err
	}
	return AppendValues(b, args...)
}

// AppendValues appends AMF0 values, as a data message (type 18) carries them.
func AppendValues(b []byte, vals ...any) ([]byte, error) {
	var err error
	for _, v := range vals {
		if b, err = amf.AppendAMF0(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}
