package amf_test

import (
	"fmt"

	"github.com/nimbus-media/nimbus/amf"
)

// A server decodes a connect command and appends its _result reply to a
// reusable buffer.
func Example() {
	// What Flash Player sends: name, transaction ID, command object.
	var e amf.Encoder
	msg, _ := e.AppendAMF0(nil, "connect")
	msg, _ = e.AppendAMF0(msg, 1)
	msg, _ = e.AppendAMF0(msg, amf.Object{{Key: "app", Value: "live"}, {Key: "objectEncoding", Value: 3}})

	d := amf.NewDecoder()
	d.Reset(msg)
	name, _ := d.DecodeAMF0()
	txn, _ := d.DecodeAMF0()
	cmd, _ := d.DecodeAMF0()
	obj, _ := cmd.(amf.Object)
	enc, _ := obj.Number("objectEncoding")
	fmt.Println(name, txn, obj.String("app"), enc)

	reply := make([]byte, 0, 256)
	e.Reset()
	for _, v := range []any{
		"_result", txn,
		amf.Object{{Key: "fmsVer", Value: "FMS/3,5,7,7009"}, {Key: "capabilities", Value: 31}},
		amf.Object{
			{Key: "level", Value: "status"},
			{Key: "code", Value: "NetConnection.Connect.Success"},
			{Key: "objectEncoding", Value: enc},
		},
	} {
		reply, _ = e.AppendAMF0(reply, v)
	}
	fmt.Println(len(reply), "bytes")
	// Output:
	// connect 1 live 3
	// 154 bytes
}

// Externalizable AMF3 classes need a reader for their private body format.
func ExampleDecoder_RegisterExternalizable() {
	d := amf.NewDecoder()
	d.RegisterExternalizable("com.example.Version", func(d *amf.Decoder) (any, error) {
		b, err := d.ReadBytes(2) // major and minor, one byte each
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("v%d.%d", b[0], b[1]), nil
	})
	// 0x0a object, 0x07 externalizable traits, class name, body.
	msg := append([]byte{0x0a, 0x07, 0x27}, "com.example.Version"...)
	msg = append(msg, 2, 5)
	d.Reset(msg)
	v, err := d.DecodeAMF3()
	fmt.Println(v, err)
	// Output: v2.5 <nil>
}
