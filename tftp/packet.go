package tftp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Opcode is the first field of every TFTP packet.
type Opcode uint16

// The TFTP opcodes (RFC 1350, RFC 2347).
const (
	OpRRQ   Opcode = 1 // read request
	OpWRQ   Opcode = 2 // write request
	OpDATA  Opcode = 3 // data block
	OpACK   Opcode = 4 // acknowledgement
	OpERROR Opcode = 5 // error
	OpOACK  Opcode = 6 // option acknowledgement
)

// String returns the opcode's name, such as "RRQ".
func (op Opcode) String() string {
	switch op {
	case OpRRQ:
		return "RRQ"
	case OpWRQ:
		return "WRQ"
	case OpDATA:
		return "DATA"
	case OpACK:
		return "ACK"
	case OpERROR:
		return "ERROR"
	case OpOACK:
		return "OACK"
	}
	return fmt.Sprintf("opcode(%d)", uint16(op))
}

// ErrorCode is the code carried by an ERROR packet.
type ErrorCode uint16

// The TFTP error codes (RFC 1350, RFC 2347).
const (
	ErrUndefined   ErrorCode = 0 // not defined, see the message
	ErrNotFound    ErrorCode = 1 // file not found
	ErrAccess      ErrorCode = 2 // access violation
	ErrDiskFull    ErrorCode = 3 // disk full or allocation exceeded
	ErrIllegalOp   ErrorCode = 4 // illegal TFTP operation
	ErrUnknownTID  ErrorCode = 5 // unknown transfer ID
	ErrFileExists  ErrorCode = 6 // file already exists
	ErrNoSuchUser  ErrorCode = 7 // no such user
	ErrOption      ErrorCode = 8 // option negotiation refused
	maxKnownErrors           = 8
)

var errorCodeNames = [...]string{
	"undefined", "file not found", "access violation", "disk full",
	"illegal operation", "unknown transfer ID", "file already exists",
	"no such user", "option refused",
}

// String returns a short description of the code.
func (c ErrorCode) String() string {
	if int(c) <= maxKnownErrors {
		return errorCodeNames[c]
	}
	return fmt.Sprintf("error code %d", uint16(c))
}

// Error is a TFTP error: what an ERROR packet carries, and what a Handler
// returns to answer a request with a particular code. It also is the Packet
// value ParsePacket returns for an ERROR packet.
//
// errors.Is matches an *Error with code ErrNotFound against fs.ErrNotExist,
// ErrAccess against fs.ErrPermission and ErrFileExists against fs.ErrExist.
type Error struct {
	Code    ErrorCode
	Message string
}

// Error returns "tftp error <code> (<name>): <message>".
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("tftp error %d (%s)", uint16(e.Code), e.Code)
	}
	return fmt.Sprintf("tftp error %d (%s): %s", uint16(e.Code), e.Code, e.Message)
}

// Is reports whether e corresponds to one of the io/fs sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e.Code == ErrNotFound
	case fs.ErrPermission:
		return e.Code == ErrAccess
	case fs.ErrExist:
		return e.Code == ErrFileExists
	}
	return false
}

// Opcode returns OpERROR.
func (e *Error) Opcode() Opcode { return OpERROR }

// AppendTo appends the ERROR packet to b.
func (e *Error) AppendTo(b []byte) []byte { return AppendError(b, e.Code, e.Message) }

// Option is one option of a request or of an OACK (RFC 2347).
type Option struct {
	Name  string
	Value string
}

// Options is a list of options in the order the peer sent them.
type Options []Option

// Get returns the value of the first option whose name matches name without
// regard to case.
func (o Options) Get(name string) (string, bool) {
	for _, opt := range o {
		if strings.EqualFold(opt.Name, name) {
			return opt.Value, true
		}
	}
	return "", false
}

// Text returns the options as "name=value" pairs separated by spaces, in
// order, as they appear in logs. (Options has no String method: fmt prints
// it as the slice it is.)
func (o Options) Text() string {
	var b strings.Builder
	for i, opt := range o {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(opt.Name + "=" + opt.Value)
	}
	return b.String()
}

// Packet is a decoded TFTP packet: *RequestPacket, *DataPacket, *AckPacket,
// *Error or *OACKPacket.
type Packet interface {
	// Opcode returns the packet's opcode.
	Opcode() Opcode
	// AppendTo appends the encoded packet to b and returns the result.
	AppendTo(b []byte) []byte
}

// RequestPacket is a read (RRQ) or write (WRQ) request.
type RequestPacket struct {
	Op       Opcode // OpRRQ or OpWRQ
	Filename string
	Mode     string // as sent; compare without regard to case
	Options  Options
}

// Opcode returns p.Op.
func (p *RequestPacket) Opcode() Opcode { return p.Op }

// AppendTo appends the encoded request to b.
func (p *RequestPacket) AppendTo(b []byte) []byte {
	return AppendRequest(b, p.Op, p.Filename, p.Mode, p.Options)
}

// DataPacket is a DATA packet. When decoded, Data aliases the decoded buffer.
type DataPacket struct {
	Block uint16
	Data  []byte
}

// Opcode returns OpDATA.
func (p *DataPacket) Opcode() Opcode { return OpDATA }

// AppendTo appends the encoded DATA packet to b.
func (p *DataPacket) AppendTo(b []byte) []byte { return AppendData(b, p.Block, p.Data) }

// AckPacket is an ACK packet.
type AckPacket struct {
	Block uint16
}

// Opcode returns OpACK.
func (p *AckPacket) Opcode() Opcode { return OpACK }

// AppendTo appends the encoded ACK packet to b.
func (p *AckPacket) AppendTo(b []byte) []byte { return AppendAck(b, p.Block) }

// OACKPacket is an option acknowledgement (RFC 2347).
type OACKPacket struct {
	Options Options
}

// Opcode returns OpOACK.
func (p *OACKPacket) Opcode() Opcode { return OpOACK }

// AppendTo appends the encoded OACK packet to b.
func (p *OACKPacket) AppendTo(b []byte) []byte { return AppendOACK(b, p.Options) }

// ErrMalformed is wrapped by every error the decoders return, so callers can
// tell a bad packet from other failures with errors.Is.
var ErrMalformed = errors.New("malformed tftp packet")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// ParseOpcode returns the opcode of packet b. It does not allocate unless b is
// too short.
func ParseOpcode(b []byte) (Opcode, error) {
	if len(b) < 2 {
		return 0, malformed("%d bytes, too short for an opcode", len(b))
	}
	return Opcode(binary.BigEndian.Uint16(b)), nil
}

// ParseAck decodes an ACK packet and returns its block number. Bytes after the
// block number are ignored. It allocates nothing for a well-formed ACK.
func ParseAck(b []byte) (uint16, error) {
	if len(b) < 4 {
		return 0, malformed("ACK packet of %d bytes, want 4", len(b))
	}
	if op := Opcode(binary.BigEndian.Uint16(b)); op != OpACK {
		return 0, malformed("packet is %v, not ACK", op)
	}
	return binary.BigEndian.Uint16(b[2:]), nil
}

// ParseData decodes a DATA packet; data aliases b. It allocates nothing for a
// well-formed DATA packet.
func ParseData(b []byte) (block uint16, data []byte, err error) {
	if len(b) < 4 {
		return 0, nil, malformed("DATA packet of %d bytes, shorter than its 4-byte header", len(b))
	}
	if op := Opcode(binary.BigEndian.Uint16(b)); op != OpDATA {
		return 0, nil, malformed("packet is %v, not DATA", op)
	}
	return binary.BigEndian.Uint16(b[2:]), b[4:], nil
}

// ParseError decodes an ERROR packet. A message lacking its terminating NUL
// is accepted (some clients omit it); bytes after the NUL are ignored.
func ParseError(b []byte) (*Error, error) {
	if len(b) < 4 {
		return nil, malformed("ERROR packet of %d bytes, shorter than its 4-byte header", len(b))
	}
	if op := Opcode(binary.BigEndian.Uint16(b)); op != OpERROR {
		return nil, malformed("packet is %v, not ERROR", op)
	}
	msg := b[4:]
	if i := indexNUL(msg); i >= 0 {
		msg = msg[:i]
	}
	return &Error{Code: ErrorCode(binary.BigEndian.Uint16(b[2:])), Message: string(msg)}, nil
}

// ParsePacket decodes any TFTP packet. It never reads past b and never
// panics; a malformed packet yields an error wrapping ErrMalformed that names
// the fault. DATA payloads alias b; strings are copied.
//
// Requests and OACKs must have every field NUL-terminated and options in
// name/value pairs with non-empty names; trailing NUL padding after the last
// complete field is ignored.
func ParsePacket(b []byte) (Packet, error) {
	op, err := ParseOpcode(b)
	if err != nil {
		return nil, err
	}
	switch op {
	case OpRRQ, OpWRQ:
		r, err := parseRequest(op, b[2:])
		if err != nil {
			return nil, err
		}
		return r, nil
	case OpDATA:
		blk, data, err := ParseData(b)
		if err != nil {
			return nil, err
		}
		return &DataPacket{Block: blk, Data: data}, nil
	case OpACK:
		blk, err := ParseAck(b)
		if err != nil {
			return nil, err
		}
		return &AckPacket{Block: blk}, nil
	case OpERROR:
		e, err := ParseError(b)
		if err != nil {
			return nil, err
		}
		return e, nil
	case OpOACK:
		opts, err := parseOptions(b[2:], "OACK")
		if err != nil {
			return nil, err
		}
		if len(opts) == 0 {
			return nil, malformed("OACK carries no options")
		}
		return &OACKPacket{Options: opts}, nil
	}
	return nil, malformed("unknown opcode %d", uint16(op))
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// field splits off one NUL-terminated string from b.
func field(b []byte) (s string, rest []byte, ok bool) {
	i := indexNUL(b)
	if i < 0 {
		return "", b, false
	}
	return string(b[:i]), b[i+1:], true
}

func allNUL(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func parseRequest(op Opcode, b []byte) (*RequestPacket, error) {
	name, rest, ok := field(b)
	if !ok {
		return nil, malformed("%v filename is not NUL-terminated", op)
	}
	mode, rest, ok := field(rest)
	if !ok {
		return nil, malformed("%v mode is missing or not NUL-terminated", op)
	}
	if mode == "" {
		return nil, malformed("%v mode is empty", op)
	}
	opts, err := parseOptions(rest, op.String())
	if err != nil {
		return nil, err
	}
	return &RequestPacket{Op: op, Filename: name, Mode: mode, Options: opts}, nil
}

func parseOptions(b []byte, what string) (Options, error) {
	var opts Options
	for len(b) > 0 {
		if allNUL(b) {
			break
		}
		name, rest, ok := field(b)
		if !ok {
			return nil, malformed("%s option name %q is not NUL-terminated", what, truncate(b))
		}
		if name == "" {
			return nil, malformed("%s has an option with an empty name", what)
		}
		val, rest, ok := field(rest)
		if !ok {
			return nil, malformed("%s option %q has no NUL-terminated value", what, name)
		}
		opts = append(opts, Option{Name: name, Value: val})
		b = rest
	}
	return opts, nil
}

func truncate(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}

// PutDataHeader writes a DATA header for block into b[0:4]. Use it to read a
// block straight into b[4:]. It panics if len(b) < 4.
func PutDataHeader(b []byte, block uint16) {
	_ = b[3]
	binary.BigEndian.PutUint16(b, uint16(OpDATA))
	binary.BigEndian.PutUint16(b[2:], block)
}

// AppendData appends a DATA packet to b. It does not allocate when b has room.
func AppendData(b []byte, block uint16, data []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(OpDATA))
	b = binary.BigEndian.AppendUint16(b, block)
	return append(b, data...)
}

// AppendAck appends an ACK packet to b. It does not allocate when b has room.
func AppendAck(b []byte, block uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(OpACK))
	return binary.BigEndian.AppendUint16(b, block)
}

// AppendError appends an ERROR packet to b. NUL bytes in msg would end the
// message early on the wire, so the message is cut at the first one.
func AppendError(b []byte, code ErrorCode, msg string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(OpERROR))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	if i := strings.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	b = append(b, msg...)
	return append(b, 0)
}

// AppendRequest appends an RRQ or WRQ packet to b.
func AppendRequest(b []byte, op Opcode, filename, mode string, opts Options) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(op))
	b = append(b, filename...)
	b = append(b, 0)
	b = append(b, mode...)
	b = append(b, 0)
	return appendOptions(b, opts)
}

// AppendOACK appends an OACK packet to b.
func AppendOACK(b []byte, opts Options) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(OpOACK))
	return appendOptions(b, opts)
}

func appendOptions(b []byte, opts Options) []byte {
	for _, o := range opts {
		b = append(b, o.Name...)
		b = append(b, 0)
		b = append(b, o.Value...)
		b = append(b, 0)
	}
	return b
}
