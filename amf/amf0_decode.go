package amf

import "fmt"

// AMF0 type markers (AMF0 §2.1, §3.1).
const (
	amf0Number      = 0x00
	amf0Boolean     = 0x01
	amf0String      = 0x02
	amf0Object      = 0x03
	amf0MovieClip   = 0x04 // reserved
	amf0Null        = 0x05
	amf0Undefined   = 0x06
	amf0Reference   = 0x07
	amf0ECMAArray   = 0x08
	amf0ObjectEnd   = 0x09
	amf0StrictArray = 0x0a
	amf0Date        = 0x0b
	amf0LongString  = 0x0c
	amf0Unsupported = 0x0d
	amf0RecordSet   = 0x0e // reserved
	amf0XMLDocument = 0x0f
	amf0TypedObject = 0x10
	amf0AVMPlus     = 0x11
)

func (d *Decoder) amf0Value() (any, error) {
	start := d.off
	m, err := d.readByte()
	if err != nil {
		return nil, err
	}
	if m == amf0AVMPlus {
		// The switch is not a value of its own: the AMF3 value after it
		// is accounted for by amf3Value.
		return d.amf3Value()
	}
	if err := d.value(start); err != nil {
		return nil, err
	}
	switch m {
	case amf0Number:
		return d.readDouble()
	case amf0Boolean:
		b, err := d.readByte()
		return b != 0, err
	case amf0String:
		return d.readString0()
	case amf0LongString:
		return d.readLongString0()
	case amf0Null:
		return nil, nil
	case amf0Undefined:
		return Undefined{}, nil
	case amf0Unsupported:
		return Unsupported{}, nil
	case amf0Reference:
		i, err := d.readU16()
		if err != nil {
			return nil, err
		}
		return d.deref(d.refs0, uint32(i), start)
	case amf0Object, amf0ECMAArray, amf0TypedObject:
		return d.object0(m)
	case amf0StrictArray:
		return d.strictArray0(start)
	case amf0Date:
		// Flash Player puts dates in the AMF0 reference table although
		// AMF0 §2.9 lists only objects and arrays, and sends repeated
		// dates by reference; so must we when reading.
		ms, err := d.readDouble()
		if err != nil {
			return nil, err
		}
		if _, err := d.readN(2); err != nil { // time-zone, reserved (AMF0 §2.13)
			return nil, err
		}
		v := msToTime(ms)
		d.refs0 = append(d.refs0, entry{v: v, count: 1, done: true})
		return v, nil
	case amf0XMLDocument:
		// Like dates, Flash Player counts XML documents as referenceable.
		s, err := d.readLongString0()
		if err != nil {
			return nil, err
		}
		v := XMLDocument(s)
		d.refs0 = append(d.refs0, entry{v: v, count: 1, done: true})
		return v, nil
	}
	return nil, d.errAt(start, fmt.Errorf("%w: AMF0 0x%02x", ErrUnknownMarker, m))
}

func (d *Decoder) readString0() (string, error) {
	n, err := d.readU16()
	if err != nil {
		return "", err
	}
	b, err := d.readN(uint64(n))
	return str(b), err
}

func (d *Decoder) readLongString0() (string, error) {
	n, err := d.readU32()
	if err != nil {
		return "", err
	}
	b, err := d.readN(uint64(n))
	return string(b), err
}

// object0 decodes an anonymous object, an ECMA array or a typed object; all
// three are a property list ended by an empty name and object-end (AMF0
// §2.5, §2.10, §2.18). The ECMA array count is only a hint, and encoders get
// it wrong, so it is ignored; members are collected on the scratch stack and
// copied out once, so no count is trusted for allocation.
func (d *Decoder) object0(m byte) (any, error) {
	var class string
	switch m {
	case amf0ECMAArray:
		if _, err := d.readU32(); err != nil {
			return nil, err
		}
	case amf0TypedObject:
		var err error
		if class, err = d.readString0(); err != nil {
			return nil, err
		}
	}
	slot := len(d.refs0)
	d.refs0 = append(d.refs0, entry{})
	sp := d.open()
	d.depth++
	base := len(d.props)
	for {
		n, err := d.readU16()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if b, ok := d.peekByte(); ok && b == amf0ObjectEnd {
				d.off++
				break
			}
		}
		k, err := d.readN(uint64(n))
		if err != nil {
			return nil, err
		}
		key := str(k)
		v, err := d.amf0Value()
		if err != nil {
			return nil, err
		}
		d.props = append(d.props, Property{Key: key, Value: v})
	}
	d.depth--
	props := d.popProps(base)
	var v any
	switch m {
	case amf0Object:
		v = props
	case amf0ECMAArray:
		v = ECMAArray(props)
	default:
		v = &TypedObject{Class: class, Props: props, Sealed: len(props)}
	}
	d.close(sp, &d.refs0[slot], v)
	return v, nil
}

func (d *Decoder) strictArray0(start int) (any, error) {
	n, err := d.readU32()
	if err != nil {
		return nil, err
	}
	if !d.fits(n, 1) {
		return nil, d.truncated()
	}
	if uint64(n) > uint64(d.maxElements()-d.elems) {
		return nil, d.errAt(start, ErrTooManyElements)
	}
	slot := len(d.refs0)
	d.refs0 = append(d.refs0, entry{})
	sp := d.open()
	d.depth++
	a := make(StrictArray, n)
	for i := range a {
		if a[i], err = d.amf0Value(); err != nil {
			return nil, err
		}
	}
	d.depth--
	d.close(sp, &d.refs0[slot], a)
	return a, nil
}
