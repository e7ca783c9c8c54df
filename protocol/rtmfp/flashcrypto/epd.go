package flashcrypto

import (
	"fmt"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Endpoint discriminator option types (RFC 7425 §4.4 via rtmfp-cpp).
const (
	EPDRequiredHostname = 0x00
	EPDAncillaryData    = 0x0a // the connection URL
	EPDFingerprint      = 0x0f // the 32-byte peer ID of the wanted endpoint
)

// EPD is a parsed endpoint discriminator; fields alias the input.
type EPD struct {
	Hostname       []byte
	Ancillary      []byte // usually the rtmfp:// URL
	Fingerprint    []byte // 32 bytes when present
	HasHostname    bool
	HasAncillary   bool
	HasFingerprint bool
}

// ParseEPD parses an endpoint discriminator. An EPD with none of the three
// known options is an error: it cannot select anyone.
func ParseEPD(b []byte) (EPD, error) {
	var e EPD
	it := wire.OptionList(b)
	for it.Next() {
		switch it.Type() {
		case EPDRequiredHostname:
			e.Hostname, e.HasHostname = it.Value(), true
		case EPDAncillaryData:
			e.Ancillary, e.HasAncillary = it.Value(), true
		case EPDFingerprint:
			if len(it.Value()) != 32 {
				return EPD{}, fmt.Errorf("%w: fingerprint of %d bytes", ErrEPD, len(it.Value()))
			}
			e.Fingerprint, e.HasFingerprint = it.Value(), true
		}
	}
	if it.Err() != nil {
		return EPD{}, fmt.Errorf("%w: %w", ErrEPD, it.Err())
	}
	if !e.HasHostname && !e.HasAncillary && !e.HasFingerprint {
		return EPD{}, fmt.Errorf("%w: no selecting option", ErrEPD)
	}
	return e, nil
}

// AppendURLEPD appends the EPD Flash sends to reach a server by URL.
func AppendURLEPD(b []byte, url string) []byte {
	return wire.AppendOption(b, EPDAncillaryData, []byte(url))
}

// AppendFingerprintEPD appends the canonical EPD of a peer ID (21 0f <id>).
func AppendFingerprintEPD(b []byte, id [32]byte) []byte {
	return wire.AppendOption(b, EPDFingerprint, id[:])
}

// Selects reports whether a certificate is selected by the EPD, following
// rtmfp-cpp's rules: a fingerprint must equal the certificate's, a hostname
// must equal its hostname, and ancillary data requires the certificate to
// accept it.
func (e *EPD) Selects(c *Certificate) bool {
	if e.HasFingerprint && string(e.Fingerprint) != string(c.Fingerprint[:]) {
		return false
	}
	if e.HasHostname && string(e.Hostname) != string(c.Hostname) {
		return false
	}
	if e.HasAncillary && !c.AcceptsAncillary {
		return false
	}
	return true
}
