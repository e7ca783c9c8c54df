// Package amf encodes and decodes Action Message Format, the serialisation
// of ActionScript values used by RTMP and RTMFP commands, data messages and
// shared objects: AMF0 (specs/amf0-spec.txt) and AMF3 (specs/amf3-spec.txt),
// including the Flash Player 10 AMF3 additions (vectors and Dictionary) and
// the AMF0 avmplus-object-marker that switches one value to AMF3 (AMF0 §3.1,
// RTMP errata §7.2).
//
// # Value model
//
// Decoded values are plain Go values: nil (null), Undefined, bool, float64
// (every number, AMF3 integers included), string, time.Time (UTC), and the
// named types of value.go for everything AMF-specific: Object and ECMAArray
// (ordered property lists), StrictArray, *TypedObject, *MixedArray,
// XMLDocument, XML, ByteArray, the Vector types and Dictionary. The encoder
// accepts the same types plus Go integers, float32, []any and
// map[string]any (written with sorted keys). Because the model is concrete,
// re-encoding a decoded value reproduces it: decode → encode → decode is the
// identity (the fuzz targets check this).
//
// # Encoding
//
// Encoders append to a caller's buffer (Encoder.AppendAMF0,
// Encoder.AppendAMF3) in the style of quic-go's frame writers; with enough
// capacity in the buffer, encoding a command of objects, strings and numbers
// does not allocate. AMF3 strings, objects and traits repeated within a
// message are written as references.
//
// # Decoding and limits
//
// A Decoder reads values from one message buffer. Everything a peer declares
// is bounded before it is trusted: no length or count is used to allocate
// more than the remaining input could hold, the total number of values is
// bounded by Decoder.MaxElements and nesting by Decoder.MaxDepth. References
// are resolved from the reference tables, charged against both limits as if
// the referenced value had been sent inline, so a few bytes of references
// cannot expand into an exponentially large tree; a reference to an object
// that is still being decoded (a cycle) is an error, so decoded values never
// contain cycles. Members of objects are collected on a reusable scratch
// stack and copied out once, so decoding allocates only the resulting
// strings, slices and boxed values.
//
// # Reference tables and the AMF0 → AMF3 switch
//
// AMF0 and AMF3 each define per-message reference tables (AMF0 §2.9, AMF3
// §2.2) which are reset for each AMF packet header and message body (AMF0
// §4.1.2-4.1.3, AMF3 §4.1). Neither spec says whether an avmplus switch
// inside an AMF0 stream starts fresh AMF3 tables. Flash Player does not
// reset them: AMF3 values after later switches in the same message refer to
// strings, traits and objects of earlier ones. This is what the peers built
// to interoperate with it implement: Adobe's BlazeDS (Amf0Input keeps one
// AMF3 reader for the whole body and resets it only with the body), Red5
// (its AMF3 reference storage spans "the whole body (across several Input
// objects)"), MonaServer (AMF3 tables cleared only on reset), and Ruffle's
// reader of Flash-written .sol files, which had to carry AMF3 references
// across switches (ruffle-rs/rust-flash-lso#66). A few readers (Shumway,
// Zend_Amf) start fresh tables at each switch; they would misread such
// input. This package follows Flash: a Decoder's and an Encoder's AMF3
// tables span every DecodeAMF3/AppendAMF3 call and every switch until
// Reset, and a Decoder is Reset once per RTMP message.
//
// Flash Player also enters dates and XML documents in the AMF0 reference
// table and sends repeated ones by reference, although AMF0 §2.9 lists only
// objects and arrays (observed in ruffle-rs/rust-flash-lso#72 and #124); the
// decoder does the same, so indices after a date stay correct.
//
// # Externalizable objects
//
// AMF3 externalizable objects have a class-private body (AMF3 §3.12). A
// Decoder reads the body with an ExternalizableReader registered for the
// class; flex.messaging.io.ArrayCollection and flex.messaging.io.ObjectProxy,
// which Flex clients send, are built in and decode to the value they wrap.
// Any other externalizable class fails with an error wrapping
// ErrExternalizable that names the class, since its body cannot be skipped.
//
// # Dates
//
// Dates decode to time.Time in UTC with millisecond precision. An invalid
// ActionScript Date (NaN or outside ±8.64e15 ms) decodes to the zero
// time.Time, and the zero time.Time encodes as an invalid Date.
package amf
