package wire

// User Data (0x10, RFC 7016 §2.3.11) and Next User Data (0x11, §2.3.12)
// carry one fragment of a flow message each. Next User Data omits the flow
// ID, sequence number and FSN offset: it continues the preceding (Next) User
// Data chunk of the same packet with the next sequence number and the same
// forward sequence number, which saves 3+ bytes per fragment when a packet
// carries several small messages.

// Fragment is the fragment control field (FRA).
type Fragment uint8

// Fragment control values.
const (
	FragmentWhole  Fragment = 0 // complete message
	FragmentBegin  Fragment = 1 // first fragment of a multi-fragment message
	FragmentEnd    Fragment = 2 // last fragment
	FragmentMiddle Fragment = 3 // neither first nor last
)

// User data flag bits.
const (
	userDataOptions = 0x80
	userDataAbandon = 0x02
	userDataFinal   = 0x01
)

// User data option types (RFC 7016 §2.3.11.1).
const (
	OptionMetadata          = 0x00 // user's per-flow metadata
	OptionReturnAssociation = 0x0a // return flow association
)

// UserData is one flow fragment.
type UserData struct {
	FlowID    uint64
	Seq       uint64
	FSNOffset uint64 // Seq minus the forward sequence number
	Fragment  Fragment
	Abandon   bool
	Final     bool
	// Options is the option list without its terminating Marker; nil when
	// the chunk has none (OPT clear).
	Options []byte
	Data    []byte
}

// FSN returns the forward sequence number the chunk carries.
func (c *UserData) FSN() uint64 { return c.Seq - c.FSNOffset }

func (c *UserData) flags() byte {
	f := byte(c.Fragment&3) << 4
	if c.Options != nil {
		f |= userDataOptions
	}
	if c.Abandon {
		f |= userDataAbandon
	}
	if c.Final {
		f |= userDataFinal
	}
	return f
}

// UserDataOverhead returns the bytes a User Data chunk for c needs besides
// its Data, so a packet builder can size the fragment to the space left.
func UserDataOverhead(c *UserData) int {
	n := ChunkHeaderLen + 1 + VLULen(c.FlowID) + VLULen(c.Seq) + VLULen(c.FSNOffset)
	if c.Options != nil {
		n += len(c.Options) + 1
	}
	return n
}

// NextUserDataOverhead is UserDataOverhead for a Next User Data chunk.
func NextUserDataOverhead(c *UserData) int {
	n := ChunkHeaderLen + 1
	if c.Options != nil {
		n += len(c.Options) + 1
	}
	return n
}

// AppendUserData appends a User Data chunk.
func AppendUserData(b []byte, c *UserData) ([]byte, error) {
	b, off := BeginChunk(b, ChunkUserData)
	b = append(b, c.flags())
	b = AppendVLU(b, c.FlowID)
	b = AppendVLU(b, c.Seq)
	b = AppendVLU(b, c.FSNOffset)
	if c.Options != nil {
		b = append(b, c.Options...)
		b = AppendMarker(b)
	}
	b = append(b, c.Data...)
	return EndChunk(b, off)
}

// AppendNextUserData appends a Next User Data chunk. The caller guarantees
// that it directly follows a (Next) User Data chunk of the same flow whose
// sequence number is c.Seq-1 and whose forward sequence number equals c's.
func AppendNextUserData(b []byte, c *UserData) ([]byte, error) {
	b, off := BeginChunk(b, ChunkNextUserData)
	b = append(b, c.flags())
	if c.Options != nil {
		b = append(b, c.Options...)
		b = AppendMarker(b)
	}
	b = append(b, c.Data...)
	return EndChunk(b, off)
}

// ParseUserData decodes a User Data payload; the result aliases p.
func ParseUserData(p []byte) (UserData, error) {
	if len(p) < 1 {
		return UserData{}, ErrShort
	}
	var c UserData
	flags := p[0]
	rest := p[1:]
	var n int
	var err error
	if c.FlowID, n, err = ParseVLU(rest); err != nil {
		return UserData{}, err
	}
	rest = rest[n:]
	if c.Seq, n, err = ParseVLU(rest); err != nil {
		return UserData{}, err
	}
	rest = rest[n:]
	if c.FSNOffset, n, err = ParseVLU(rest); err != nil {
		return UserData{}, err
	}
	rest = rest[n:]
	if err := c.parseTail(flags, rest); err != nil {
		return UserData{}, err
	}
	if c.Seq == 0 || c.FSNOffset > c.Seq || (c.FSNOffset == 0 && !c.Abandon) {
		return UserData{}, ErrInvalid
	}
	return c, nil
}

// ParseNextUserData decodes a Next User Data payload that continues prev.
func ParseNextUserData(p []byte, prev *UserData) (UserData, error) {
	if len(p) < 1 {
		return UserData{}, ErrShort
	}
	c := UserData{FlowID: prev.FlowID, Seq: prev.Seq + 1, FSNOffset: prev.FSNOffset + 1}
	if c.Seq == 0 {
		return UserData{}, ErrInvalid
	}
	if err := c.parseTail(p[0], p[1:]); err != nil {
		return UserData{}, err
	}
	return c, nil
}

func (c *UserData) parseTail(flags byte, rest []byte) error {
	c.Fragment = Fragment(flags>>4) & 3
	c.Abandon = flags&userDataAbandon != 0
	c.Final = flags&userDataFinal != 0
	if flags&userDataOptions != 0 {
		it := OptionList(rest)
		for it.Next() {
		}
		if it.Err() != nil {
			return it.Err()
		}
		if !it.Terminated() {
			return ErrShort
		}
		// The options end one byte (the Marker) before what remains.
		c.Options = rest[: len(rest)-len(it.Rest())-1 : len(rest)-len(it.Rest())-1]
		rest = it.Rest()
	}
	c.Data = rest
	return nil
}

// AppendFlowOptions appends the startup options of a flow to b: the user's
// metadata and, if hasAssoc, the return flow association (RFC 7016
// §2.3.11.1). The result is what UserData.Options should hold on the first
// fragment of every packet until the flow is acknowledged.
func AppendFlowOptions(b, metadata []byte, assoc uint64, hasAssoc bool) []byte {
	b = AppendOption(b, OptionMetadata, metadata)
	if hasAssoc {
		b = AppendVLUOption(b, OptionReturnAssociation, assoc)
	}
	return b
}
