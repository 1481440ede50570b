package tftp

import (
	"bytes"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	pkts := []Packet{
		&RequestPacket{Op: OpRRQ, Filename: "1234abcd/start4.elf", Mode: "octet",
			Options: Options{{"tsize", "0"}, {"blksize", "1024"}}},
		&RequestPacket{Op: OpWRQ, Filename: "x", Mode: "NetASCII"},
		&DataPacket{Block: 65535, Data: []byte("hello")},
		&DataPacket{Block: 0, Data: []byte{}},
		&AckPacket{Block: 7},
		&Error{Code: ErrNotFound, Message: "no such file"},
		&Error{Code: ErrUndefined, Message: ""},
		&OACKPacket{Options: Options{{"blksize", "1468"}}},
	}
	for _, p := range pkts {
		b := p.AppendTo(nil)
		got, err := ParsePacket(b)
		if err != nil {
			t.Fatalf("%v: %v", p.Opcode(), err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("round trip of %v: got %#v, want %#v", p.Opcode(), got, p)
		}
	}
}

func TestParseExactBytes(t *testing.T) {
	b := []byte("\x00\x01boot.img\x00octet\x00tsize\x000\x00blksize\x001468\x00")
	p, err := ParsePacket(b)
	if err != nil {
		t.Fatal(err)
	}
	r := p.(*RequestPacket)
	if r.Op != OpRRQ || r.Filename != "boot.img" || r.Mode != "octet" || len(r.Options) != 2 {
		t.Fatalf("got %+v", r)
	}
	if v, ok := r.Options.Get("BLKSIZE"); !ok || v != "1468" {
		t.Errorf("Get(BLKSIZE) = %q, %v", v, ok)
	}
	if _, ok := r.Options.Get("windowsize"); ok {
		t.Error("Get found an absent option")
	}
	if got := AppendAck(nil, 0x0102); !bytes.Equal(got, []byte{0, 4, 1, 2}) {
		t.Errorf("AppendAck = %x", got)
	}
	if got := AppendError(nil, ErrAccess, "a\x00b"); !bytes.Equal(got, []byte("\x00\x05\x00\x02a\x00")) {
		t.Errorf("AppendError = %q", got)
	}
	// Trailing NUL padding after a request is tolerated.
	if _, err := ParsePacket([]byte("\x00\x01f\x00octet\x00\x00\x00")); err != nil {
		t.Errorf("padded request: %v", err)
	}
	// An ERROR message without its NUL is accepted.
	e, err := ParsePacket([]byte("\x00\x05\x00\x00Early terminate"))
	if err != nil || e.(*Error).Message != "Early terminate" {
		t.Errorf("unterminated error message: %v %v", e, err)
	}
}

func TestParseMalformed(t *testing.T) {
	cases := map[string]string{
		"":                                "too short",
		"\x00":                            "too short",
		"\x00\x09":                        "unknown opcode",
		"\x00\x01file":                    "filename is not NUL-terminated",
		"\x00\x01file\x00":                "mode is missing",
		"\x00\x01file\x00octet":           "mode is missing",
		"\x00\x01file\x00\x00":            "mode is empty",
		"\x00\x02f\x00octet\x00blk":       "not NUL-terminated",
		"\x00\x02f\x00octet\x00a\x00":     "no NUL-terminated value",
		"\x00\x01f\x00octet\x00\x00x\x00": "empty name",
		"\x00\x03\x00":                    "DATA packet of 3 bytes",
		"\x00\x04\x00":                    "ACK packet of 3 bytes",
		"\x00\x05\x00":                    "ERROR packet of 3 bytes",
		"\x00\x06":                        "OACK carries no options",
		"\x00\x06a\x00":                   "no NUL-terminated value",
	}
	for in, want := range cases {
		_, err := ParsePacket([]byte(in))
		if err == nil {
			t.Errorf("ParsePacket(%q) succeeded", in)
			continue
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePacket(%q) = %v, want mention of %q", in, err, want)
		}
	}
	if _, err := ParseAck([]byte{0, 3, 0, 1}); err == nil {
		t.Error("ParseAck accepted a DATA packet")
	}
	if _, _, err := ParseData([]byte{0, 4, 0, 1}); err == nil {
		t.Error("ParseData accepted an ACK packet")
	}
}

func TestErrorIs(t *testing.T) {
	if !errors.Is(&Error{Code: ErrNotFound}, fs.ErrNotExist) {
		t.Error("ErrNotFound is not fs.ErrNotExist")
	}
	if !errors.Is(&Error{Code: ErrAccess}, fs.ErrPermission) {
		t.Error("ErrAccess is not fs.ErrPermission")
	}
	if errors.Is(&Error{Code: ErrUndefined}, fs.ErrNotExist) {
		t.Error("ErrUndefined is fs.ErrNotExist")
	}
	if s := (&Error{Code: ErrOption, Message: "m"}).Error(); !strings.Contains(s, "8") || !strings.Contains(s, "m") {
		t.Errorf("Error() = %q", s)
	}
}

func TestHotPathAllocs(t *testing.T) {
	buf := make([]byte, 0, 4+512)
	data := make([]byte, 512)
	ack := AppendAck(nil, 3)
	dat := AppendData(nil, 9, data)
	n := testing.AllocsPerRun(100, func() {
		b := AppendData(buf[:0], 1, data)
		_ = AppendAck(b[:0], 1)
		PutDataHeader(b, 2)
		if blk, err := ParseAck(ack); err != nil || blk != 3 {
			panic("ack")
		}
		if blk, d, err := ParseData(dat); err != nil || blk != 9 || len(d) != 512 {
			panic("data")
		}
	})
	if n != 0 {
		t.Errorf("hot path allocates %v times per run", n)
	}
}

func FuzzParsePacket(f *testing.F) {
	f.Add([]byte("\x00\x01boot.img\x00octet\x00tsize\x000\x00blksize\x001468\x00"))
	f.Add([]byte("\x00\x03\x00\x01hello"))
	f.Add([]byte("\x00\x04\xff\xff"))
	f.Add([]byte("\x00\x05\x00\x00Early terminate\x00"))
	f.Add([]byte("\x00\x06blksize\x00512\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			if p != nil {
				t.Fatal("packet and error both returned")
			}
			return
		}
		enc := p.AppendTo(nil)
		q, err := ParsePacket(enc)
		if err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", enc, b, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed %#v into %#v", p, q)
		}
		if o, err := ParseOpcode(b); err != nil || o != p.Opcode() {
			t.Fatalf("ParseOpcode = %v, %v; packet is %v", o, err, p.Opcode())
		}
	})
}

func BenchmarkEncodeData(b *testing.B) {
	buf := make([]byte, 0, 4+1468)
	data := make([]byte, 1468)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		buf = AppendData(buf[:0], uint16(i), data)
	}
}

func BenchmarkEncodeAck(b *testing.B) {
	buf := make([]byte, 0, 4)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = AppendAck(buf[:0], uint16(i))
	}
}

func BenchmarkDecodeAck(b *testing.B) {
	pkt := AppendAck(nil, 42)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAck(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeData(b *testing.B) {
	pkt := AppendData(nil, 42, make([]byte, 1468))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseData(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	pkt := []byte("\x00\x011234abcd/start4.elf\x00octet\x00tsize\x000\x00blksize\x001024\x00")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePacket(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOptionsText(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{nil, ""},
		{Options{{"blksize", "1468"}}, "blksize=1468"},
		{Options{{"tsize", "0"}, {"BlkSize", "512"}, {"x", ""}}, "tsize=0 BlkSize=512 x="},
	} {
		if got := c.o.Text(); got != c.want {
			t.Errorf("%#v.Text() = %q, want %q", c.o, got, c.want)
		}
	}
}
