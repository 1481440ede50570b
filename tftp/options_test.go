package tftp

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestNegotiateAccepts(t *testing.T) {
	opts := Options{
		{"TSize", "0"}, {"blksize", "1468"}, {"foo", "bar"},
		{"windowsize", "16"}, {"timeout", "3"}, {"blksize", "8"},
	}
	n, err := negotiate(OpRRQ, opts, MaxBlockSize, 64)
	if err != nil {
		t.Fatal(err)
	}
	if n.blockSize != 1468 || n.windowSize != 16 || n.timeout != 3*time.Second || !n.tsizeAsked || n.tsize != 0 {
		t.Errorf("negotiated %+v", n)
	}
	n.setTSize(12345)
	want := Options{{"TSize", "12345"}, {"blksize", "1468"}, {"windowsize", "16"}, {"timeout", "3"}}
	if !reflect.DeepEqual(n.reply, want) {
		t.Errorf("reply %v, want %v", n.reply, want)
	}
	n.setTSize(-1)
	want = Options{{"blksize", "1468"}, {"windowsize", "16"}, {"timeout", "3"}}
	if !reflect.DeepEqual(n.reply, want) {
		t.Errorf("reply without tsize %v, want %v", n.reply, want)
	}
}

func TestNegotiateClamps(t *testing.T) {
	n, err := negotiate(OpRRQ, Options{{"blksize", "65464"}, {"windowsize", "65535"}, {"utimeout", "250000"}}, 1468, 64)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{{"blksize", "1468"}, {"windowsize", "64"}, {"utimeout", "250000"}}
	if !reflect.DeepEqual(n.reply, want) || n.blockSize != 1468 || n.windowSize != 64 || n.timeout != 250*time.Millisecond {
		t.Errorf("got %+v", n)
	}
	n, err = negotiate(OpRRQ, Options{{"blksize", "100000"}}, MaxBlockSize, 64)
	if err != nil || n.blockSize != MaxBlockSize {
		t.Errorf("blksize 100000: %+v %v", n, err)
	}
	n, err = negotiate(OpRRQ, Options{{"unknown", "1"}}, MaxBlockSize, 64)
	if err != nil || len(n.reply) != 0 || n.blockSize != DefaultBlockSize || n.windowSize != 1 || n.timeout != 0 {
		t.Errorf("unknown only: %+v %v", n, err)
	}
}

func TestNegotiateRefuses(t *testing.T) {
	bad := []Option{
		{"blksize", "0"}, {"blksize", "7"}, {"blksize", "-512"}, {"blksize", "abc"},
		{"blksize", ""}, {"blksize", " 512"}, {"blksize", "1e3"}, {"blksize", "99999999999999999999999"},
		{"tsize", "-1"}, {"tsize", "x"},
		{"timeout", "0"}, {"timeout", "256"}, {"timeout", "-1"}, {"timeout", "1.5"},
		{"utimeout", "0"}, {"utimeout", "9999"}, {"utimeout", "255000001"},
		{"windowsize", "0"}, {"windowsize", "65536"}, {"windowsize", "-4"}, {"WindowSize", "four"},
	}
	for _, o := range bad {
		_, err := negotiate(OpWRQ, Options{{"tsize", "0"}, o}, MaxBlockSize, 64)
		if err == nil {
			t.Errorf("%s=%q accepted", o.Name, o.Value)
			continue
		}
		if err.Code != ErrOption || !strings.Contains(err.Message, o.Name) {
			t.Errorf("%s=%q: %v", o.Name, o.Value, err)
		}
	}
}

func TestParseOption(t *testing.T) {
	if v, known, err := ParseOption("BLKSIZE", "0001024"); v != 1024 || !known || err != nil {
		t.Errorf("blksize 0001024: %v %v %v", v, known, err)
	}
	if _, known, err := ParseOption("multicast", ""); known || err != nil {
		t.Errorf("multicast: %v %v", known, err)
	}
}

func TestNormalizeMode(t *testing.T) {
	for in, want := range map[string]string{"octet": ModeOctet, "OCTET": ModeOctet, "NetAscii": ModeNetASCII, "mail": "", "binary": ""} {
		if got := normalizeMode(in); got != want {
			t.Errorf("normalizeMode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNetASCIIEncode(t *testing.T) {
	cases := map[string]string{
		"a\nb":     "a\r\nb",
		"a\rb":     "a\r\x00b",
		"\r\n":     "\r\x00\r\n",
		"\n\n\r\r": "\r\n\r\n\r\x00\r\x00",
		"plain":    "plain",
		"":         "",
	}
	for in, want := range cases {
		// One byte at a time from the source and into a 1-byte buffer, to
		// cross every boundary.
		r := NewNetASCIIReader(iotest.OneByteReader(strings.NewReader(in)))
		var got []byte
		buf := make([]byte, 1)
		for i := 0; i < 100; i++ {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != want {
			t.Errorf("encode %q = %q, want %q", in, got, want)
		}
		all, err := io.ReadAll(NewNetASCIIReader(strings.NewReader(in)))
		if err != nil || string(all) != want {
			t.Errorf("ReadAll encode %q = %q, %v", in, all, err)
		}
	}
}

func TestNetASCIIDecode(t *testing.T) {
	cases := map[string]string{
		"a\r\nb":               "a\nb",
		"a\r\x00b":             "a\rb",
		"\r\x00\r\n":           "\r\n",
		"x\r":                  "x\r",
		"\rz":                  "\rz",
		"\r\r\n":               "\r\n",
		"\r\n\r\n\r\x00\r\x00": "\n\n\r\r",
	}
	for in, want := range cases {
		for _, step := range []int{1, 2, 3, 1000} {
			var out bytes.Buffer
			w := NewNetASCIIWriter(&out)
			for i := 0; i < len(in); i += step {
				chunk := in[i:min(i+step, len(in))]
				if n, err := w.Write([]byte(chunk)); err != nil || n != len(chunk) {
					t.Fatal(n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Errorf("decode %q in steps of %d = %q, want %q", in, step, out.String(), want)
			}
		}
	}
}

func TestNetASCIIRoundTrip(t *testing.T) {
	src := []byte("line one\nline\rtwo\r\n\r\r\n\n\x00end\r")
	enc, err := io.ReadAll(NewNetASCIIReader(bytes.NewReader(src)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := NewNetASCIIWriter(&out)
	if _, err := w.Write(enc); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), src) {
		t.Errorf("round trip %q → %q → %q", src, enc, out.Bytes())
	}
}

func TestNegotiateRRQTsizeAnyValue(t *testing.T) {
	for _, v := range []string{"0", "enable", "-1", "", "123"} {
		n, err := negotiate(OpRRQ, Options{{"tsize", v}}, MaxBlockSize, 64)
		if err != nil || !n.tsizeAsked || n.tsizeIdx != 0 {
			t.Errorf("RRQ tsize=%q: %+v %v", v, n, err)
		}
		n.setTSize(42)
		if !reflect.DeepEqual(n.reply, Options{{"tsize", "42"}}) {
			t.Errorf("RRQ tsize=%q: reply %v", v, n.reply)
		}
	}
	if _, err := negotiate(OpWRQ, Options{{"tsize", "enable"}}, MaxBlockSize, 64); err == nil || err.Code != ErrOption {
		t.Errorf("WRQ tsize=enable: %v", err)
	}
}
