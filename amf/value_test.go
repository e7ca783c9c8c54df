package amf

import "testing"

func TestObjectHelpers(t *testing.T) {
	o := Object{
		{"app", "live"},
		{"capabilities", 239.0},
		{"fpad", false},
		{"audio", true},
		{"xml", XML("<a/>")},
		{"count", 7},
		{"app", "shadowed"},
	}
	tests := []struct {
		key    string
		str    string
		num    float64
		numOK  bool
		b      bool
		exists bool
	}{
		{key: "app", str: "live", exists: true},
		{key: "capabilities", num: 239, numOK: true, exists: true},
		{key: "fpad", exists: true},
		{key: "audio", b: true, exists: true},
		{key: "xml", exists: true}, // XML is not a plain string
		{key: "count", num: 7, numOK: true, exists: true},
		{key: "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if _, ok := o.Get(tt.key); ok != tt.exists {
				t.Errorf("Get ok = %v, want %v", ok, tt.exists)
			}
			if got := o.String(tt.key); got != tt.str {
				t.Errorf("String = %q, want %q", got, tt.str)
			}
			if n, ok := o.Number(tt.key); n != tt.num || ok != tt.numOK {
				t.Errorf("Number = %v, %v, want %v, %v", n, ok, tt.num, tt.numOK)
			}
			if got := o.Bool(tt.key); got != tt.b {
				t.Errorf("Bool = %v, want %v", got, tt.b)
			}
			a := ECMAArray(o)
			if a.String(tt.key) != tt.str || a.Bool(tt.key) != tt.b {
				t.Errorf("ECMAArray helpers disagree with Object")
			}
			if n, ok := a.Number(tt.key); n != tt.num || ok != tt.numOK {
				t.Errorf("ECMAArray.Number = %v, %v", n, ok)
			}
			if _, ok := a.Get(tt.key); ok != tt.exists {
				t.Errorf("ECMAArray.Get ok = %v", ok)
			}
		})
	}
}

func TestObjectSet(t *testing.T) {
	var o Object
	o.Set("level", "status")
	o.Set("code", "NetStream.Play.Start")
	o.Set("level", "error")
	want := Object{{"level", "error"}, {"code", "NetStream.Play.Start"}}
	if !equal(o, want, true) {
		t.Fatalf("got %v, want %v", o, want)
	}
	var a ECMAArray
	a.Set("duration", 0.0)
	a.Set("duration", 12.5)
	if n, _ := a.Number("duration"); len(a) != 1 || n != 12.5 {
		t.Fatalf("ECMAArray.Set: %v", a)
	}
}

func TestToFloat(t *testing.T) {
	for _, v := range []any{int(3), int8(3), int16(3), int32(3), int64(3), uint(3), uint8(3), uint16(3), uint32(3), uint64(3), float32(3), 3.0} {
		if f, ok := toFloat(v); !ok || f != 3 {
			t.Errorf("toFloat(%T) = %v, %v", v, f, ok)
		}
	}
	if _, ok := toFloat("3"); ok {
		t.Error("toFloat accepted a string")
	}
}
