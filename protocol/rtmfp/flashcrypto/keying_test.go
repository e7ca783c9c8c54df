package flashcrypto

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

func TestDHAllGroups(t *testing.T) {
	for _, g := range AllGroups {
		a, err := GenerateKey(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := GenerateKey(g, nil)
		s1, err1 := a.SharedSecret(b.Public)
		s2, err2 := b.SharedSecret(a.Public)
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) || s1[0] == 0 {
			t.Fatalf("group %d: secrets differ or error (%v %v)", g, err1, err2)
		}
	}
	if _, err := GenerateKey(3, nil); !errors.Is(err, ErrUnsupportedGroup) {
		t.Fatalf("group 3: %v", err)
	}
}

func TestWeakPublicKeys(t *testing.T) {
	a, _ := GenerateKey(Group2, nil)
	p := groups[Group2].p
	for name, y := range map[string]*big.Int{
		"one":       big.NewInt(1),
		"small":     big.NewInt(1 << 20),
		"p-1":       new(big.Int).Sub(p, big.NewInt(1)),
		"few ones":  new(big.Int).Lsh(big.NewInt(0xff), 500),
		"few zeros": new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 200), big.NewInt(1)),
	} {
		if _, err := a.SharedSecret(y.Bytes()); !errors.Is(err, ErrWeakPublicKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDeriveKeysSymmetric(t *testing.T) {
	secret := []byte{1, 2, 3}
	i := DeriveKeys(secret, []byte("skic"), []byte("skrc"))
	r := DeriveKeys(secret, []byte("skrc"), []byte("skic"))
	if i.Encrypt != r.Decrypt || i.Decrypt != r.Encrypt || i.SendHMAC != r.RecvHMAC || i.NearNonce != r.FarNonce {
		t.Fatal("initiator and responder keys do not mirror")
	}
	if i.Encrypt == i.Decrypt {
		t.Fatal("both directions share a key")
	}
}

// flashCert builds a Flash Player style static certificate: 81 02 1d 02 <key>.
func flashCert(t *testing.T) ([]byte, *KeyPair) {
	kp, err := GenerateKey(Group2, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := append([]byte{0x02}, kp.Public...)
	return wire.AppendOption(nil, CertStaticDHPublicKey, v), kp
}

func TestCertificates(t *testing.T) {
	id, err := NewIdentity([]GroupID{Group16, Group14, Group2}, true, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Cert) < 77 || !bytes.HasPrefix(id.Cert, []byte{0x01, 0x0a, 0x41, 0x0e}) {
		t.Fatalf("server certificate %x", id.Cert)
	}
	c, err := ParseCertificate(id.Cert)
	if err != nil || c.Static || !c.AcceptsAncillary || c.Fingerprint != id.Fingerprint || len(c.Groups) != 3 {
		t.Fatalf("parse own certificate: %+v %v", c, err)
	}
	raw, _ := flashCert(t)
	if raw[0] != 0x81 || raw[2] != 0x1d {
		t.Fatalf("flash certificate header %x", raw[:4])
	}
	fc, err := ParseCertificate(raw)
	if err != nil || !fc.Static || !fc.Offers(Group2) {
		t.Fatalf("flash certificate: %+v %v", fc, err)
	}
	// Options after a Marker are excluded from the fingerprint.
	ext, _ := ParseCertificate(append(append(append([]byte(nil), raw...), 0), 0x02, 0x33, 0x01))
	if ext == nil || ext.Fingerprint != fc.Fingerprint {
		t.Fatal("non-canonical tail changed the fingerprint")
	}
	for name, bad := range map[string][]byte{
		"neither":   {0x01, 0x0a},
		"both":      append([]byte{0x02, 0x15, 0x02}, raw...),
		"truncated": {0x05, 0x0e, 1},
	} {
		if _, err := ParseCertificate(bad); !errors.Is(err, ErrCertificate) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEPD(t *testing.T) {
	id, _ := NewIdentity([]GroupID{Group2}, true, "", nil)
	c, _ := ParseCertificate(id.Cert)
	url := AppendURLEPD(nil, "rtmfp://host/app")
	if !bytes.HasPrefix(url, []byte{0x11, 0x0a, 'r'}) {
		t.Fatalf("URL EPD %x", url)
	}
	for _, tt := range []struct {
		name    string
		epd     []byte
		selects bool
		err     bool
	}{
		{"url", url, true, false},
		{"own fingerprint", AppendFingerprintEPD(nil, id.Fingerprint), true, false},
		{"other fingerprint", AppendFingerprintEPD(nil, [32]byte{1}), false, false},
		{"hostname mismatch", wire.AppendOption(nil, EPDRequiredHostname, []byte("x")), false, false},
		{"short fingerprint", wire.AppendOption(nil, EPDFingerprint, []byte{1, 2}), false, true},
		{"nothing", wire.AppendOption(nil, 0x33, nil), false, true},
	} {
		e, err := ParseEPD(tt.epd)
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if err == nil && e.Selects(c) != tt.selects {
			t.Errorf("%s: selects = %v", tt.name, !tt.selects)
		}
	}
	// A URL EPD does not select a certificate without 0x0a.
	noAnc, _ := NewIdentity([]GroupID{Group2}, false, "", nil)
	c2, _ := ParseCertificate(noAnc.Cert)
	if e, _ := ParseEPD(url); e.Selects(c2) {
		t.Error("URL EPD selected a certificate lacking 0x0a")
	}
}

func TestKeyAgreement(t *testing.T) {
	server, _ := NewIdentity([]GroupID{Group16, Group14, Group5, Group2}, true, "", nil)
	serverCert, _ := ParseCertificate(server.Cert)
	for _, tt := range []struct {
		name       string
		groups     []GroupID
		client     Policy
		server     Policy
		hmac, sseq bool
		legacy     bool
	}{
		{"flash-like group 2", []GroupID{Group2}, Policy{}, Policy{}, false, false, true},
		{"group 5", []GroupID{Group5}, Policy{}, Policy{}, false, false, true},
		{"rtmfp-cpp style", []GroupID{Group16, Group14, Group2}, Policy{HMAC: true, SSEQ: true}, Policy{}, true, true, false},
		{"server requires", []GroupID{Group14}, Policy{}, Policy{HMAC: true, SSEQ: true, HMACLength: 10}, true, true, false},
		{"hmac only", []GroupID{Group2}, Policy{HMAC: true}, Policy{}, true, false, false},
	} {
		client, _ := NewIdentity(tt.groups, false, "", nil)
		clientCert, _ := ParseCertificate(client.Cert)
		ik, err := NewInitiatorKeying(serverCert, tt.groups, tt.client, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		skrc, rkeys, rneg, err := Responder(clientCert, ik.SKIC(), AllGroups, tt.server, nil)
		if err != nil {
			t.Fatalf("%s: responder: %v", tt.name, err)
		}
		if bytes.HasPrefix(skrc, legacySKRCHead) != tt.legacy {
			t.Errorf("%s: SKRC head %x", tt.name, skrc[:8])
		}
		ikeys, ineg, err := ik.Finish(skrc)
		if err != nil {
			t.Fatalf("%s: finish: %v", tt.name, err)
		}
		if ikeys.Encrypt != rkeys.Decrypt || ikeys.Decrypt != rkeys.Encrypt {
			t.Fatalf("%s: keys differ", tt.name)
		}
		if ineg.SendHMAC != tt.hmac || ineg.RecvHMAC != tt.hmac || rneg.SendHMAC != tt.hmac || ineg.SendSSEQ != tt.sseq || rneg.RecvSSEQ != tt.sseq {
			t.Fatalf("%s: negotiated initiator %+v responder %+v", tt.name, ineg, rneg)
		}
		if ineg.SendHMACLen != rneg.RecvHMACLen || rneg.SendHMACLen != ineg.RecvHMACLen {
			t.Fatalf("%s: HMAC lengths disagree: %+v %+v", tt.name, ineg, rneg)
		}
		// The codecs interoperate in both directions.
		is, io := ikeys.Codecs(ineg)
		rs, ro := rkeys.Codecs(rneg)
		if _, err := ro.Open(seal(is, 9, []byte{0x89, 1})); err != nil {
			t.Fatalf("%s: initiator->responder: %v", tt.name, err)
		}
		if _, err := io.Open(seal(rs, 9, []byte{0x4a, 1})); err != nil {
			t.Fatalf("%s: responder->initiator: %v", tt.name, err)
		}
	}
}

// A Flash Player style initiator: static key in the certificate, group
// select and SOR-only negotiation in the SKIC (bytes from the profile).
func TestResponderFlashInitiator(t *testing.T) {
	raw, kp := flashCert(t)
	cert, _ := ParseCertificate(raw)
	skic := []byte{0x02, 0x1d, 0x02}
	skic = wire.AppendOption(skic, KeyingExtraRandomness, make([]byte, 64))
	skic = append(skic, 0x03, 0x1a, 0x02, 0x0a, 0x02, 0x1e, 0x02)
	skrc, keys, neg, err := Responder(cert, skic, []GroupID{Group2}, Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if neg != (Negotiated{}) {
		t.Fatalf("negotiated %+v", neg)
	}
	// librtmfp reads the server key at offset 11 after 81 02 0d 02 (or 81 01).
	if !bytes.HasPrefix(skrc, legacySKRCHead) || skrc[9] != KeyingDHPublicKey || skrc[10] != 0x02 {
		t.Fatalf("SKRC layout %x", skrc[:12])
	}
	secret, err := kp.SharedSecret(skrc[11:])
	if err != nil {
		t.Fatal(err)
	}
	mine := DeriveKeys(secret, skic, skrc)
	if mine.Encrypt != keys.Decrypt {
		t.Fatal("Flash-side keys do not match")
	}
	// Server requiring HMAC from a peer that cannot send it fails.
	if _, _, _, err := Responder(cert, []byte{0x02, 0x1d, 0x02}, []GroupID{Group2}, Policy{HMAC: true}, nil); !errors.Is(err, ErrNegotiation) {
		t.Fatalf("expected negotiation failure, got %v", err)
	}
}

// FuzzKeying feeds arbitrary certificates, EPDs and key components to the
// handshake-side parsers.
func FuzzKeying(f *testing.F) {
	id, _ := NewIdentity([]GroupID{Group2}, true, "", nil)
	kp, _ := GenerateKey(Group2, nil)
	f.Add(id.Cert, appendPublicKey(nil, kp))
	f.Add(wire.AppendOption(nil, CertStaticDHPublicKey, append([]byte{2}, kp.Public...)), []byte{0x02, 0x1d, 0x02, 0x03, 0x1a, 0x02, 0x0a})
	f.Add(AppendURLEPD(nil, "rtmfp://x/y"), legacySKRCHead)
	f.Fuzz(func(t *testing.T, cert, comp []byte) {
		_, _ = ParseEPD(cert)
		c, err := ParseCertificate(cert)
		if err != nil {
			return
		}
		_, _, _, _ = Responder(c, comp, []GroupID{Group2}, Policy{}, nil)
	})
}
