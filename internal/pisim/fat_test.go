package pisim

import (
	"context"
	"sync"
	"testing"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// TestBootFromFAT lays out boot directories of every model in a FAT image
// made by mkfs.vfat and mtools, serves it through fatfs, and boots a board
// of each model from it at once.
func TestBootFromFAT(t *testing.T) {
	boards := []*Board{
		{Model: Pi3BPlus, Serial: "3b3b3b3b"},
		{Model: Pi4, Serial: "dca63201"},
		{Model: Pi5, Serial: "5a5a5a5a", Kernel: "vmlinuz"},
	}
	tree := fixture.Tree{}
	files := make([]map[string][]byte, len(boards))
	for i, b := range boards {
		files[i] = b.Files(20000, 30000, int64(i))
		for name, data := range files[i] {
			tree[b.Serial+"/"+name] = fixture.File{Data: data}
			if name == "bootcode.bin" {
				tree[name] = fixture.File{Data: data}
			}
		}
	}
	vol := fixture.NewFAT(t, fixture.FAT{Size: 8 << 20, Tree: tree})
	fsys, err := fatfs.New(vol.Open(t), vol.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t, tftp.FileServer(fsys))
	var wg sync.WaitGroup
	results := make([]*Result, len(boards))
	errs := make([]error, len(boards))
	for i, b := range boards {
		// The manifest read back from the image equals the files laid out.
		m, err := ManifestFS(fsys, b.Serial)
		if err != nil {
			t.Fatal(err)
		}
		want := NewManifest(files[i])
		if len(m) != len(want) {
			t.Fatalf("%v: the image holds %d files under %s, want %d", b.Model, len(m), b.Serial, len(want))
		}
		for k, v := range want {
			if m[k] != v {
				t.Fatalf("%v: %s in the image differs from the file laid out", b.Model, k)
			}
		}
		b.Server, b.Expect = rec.srv.Addr, m
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.Boot(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%v: %v", boards[i].Model, err)
			continue
		}
		reads := 0
		for _, q := range results[i].Requests {
			if !q.Probe && q.Outcome == OK {
				reads++
			}
		}
		if reads < len(files[i]) {
			t.Errorf("%v: %d verified reads for %d files", boards[i].Model, reads, len(files[i]))
		}
	}
}
