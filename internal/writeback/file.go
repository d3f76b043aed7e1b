package writeback

import (
	"errors"
	"os"
	"unsafe"
)

// directAlign is the alignment of the offsets, lengths and memory of direct
// writes: 4096 fits devices with 512-byte and 4 KiB logical blocks.
const directAlign = 4096

// directBuffer is how many bytes a direct File gathers before writing them.
const directBuffer = 4 << 20

// File is a new file written to be durable: Close fsyncs it. Written with
// direct I/O (see Create), its bytes go from memory to the disk without
// passing through the page cache; otherwise through a Writer, with early
// writeback.
type File struct {
	f      *os.File
	direct bool
	wb     *Writer
	buf    []byte // direct: directBuffer bytes at an aligned address
	n      int    // direct: how many bytes of buf are waiting
}

// Create makes a new file at path (it must not exist) for writing. With
// direct, it is written with direct I/O (O_DIRECT) where the filesystem
// supports it, so that writing gigabytes neither fills the page cache nor
// waits for memory to be found for it; where it does not (tmpfs), and
// without direct, through the page cache.
func Create(path string, perm os.FileMode, direct bool) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	file := &File{f: f, wb: New(f)}
	if direct && setDirect(f, true) == nil {
		file.direct = true
		raw := make([]byte, directBuffer+directAlign)
		skip := (directAlign - int(uintptr(unsafe.Pointer(&raw[0]))%directAlign)) % directAlign
		file.buf = raw[skip : skip+directBuffer]
	}
	return file, nil
}

// Direct reports whether the file is being written with direct I/O.
func (f *File) Direct() bool { return f.direct }

// Write implements io.Writer. In direct mode a p that starts at an aligned
// address, with nothing waiting before it, is written in place (its aligned
// part); any other bytes are gathered in the aligned buffer first.
func (f *File) Write(p []byte) (int, error) {
	if !f.direct {
		return f.wb.Write(p)
	}
	written := 0
	for len(p) > 0 {
		if k := len(p) &^ (directAlign - 1); f.n == 0 && k > 0 && aligned(p) {
			if err := f.writeDirect(p[:k]); err != nil {
				return written, err
			}
			p, written = p[k:], written+k
			continue
		}
		c := copy(f.buf[f.n:], p)
		f.n += c
		p, written = p[c:], written+c
		if f.n == len(f.buf) {
			if err := f.writeDirect(f.buf); err != nil {
				return written, err
			}
			f.n = 0
		}
	}
	return written, nil
}

// writeDirect writes p (aligned) at the file's offset. If the device
// refuses the alignment (EINVAL), the file goes on through the page cache.
func (f *File) writeDirect(p []byte) error {
	_, err := f.f.Write(p)
	if err != nil && isInvalid(err) && setDirect(f.f, false) == nil {
		f.direct = false
		_, err = f.wb.Write(p)
	}
	return err
}

// Close writes what is waiting (its unaligned tail through the page cache),
// fsyncs the file and closes it.
func (f *File) Close() error {
	err := f.flush()
	err = errors.Join(err, f.f.Sync())
	return errors.Join(err, f.f.Close())
}

// flush writes the bytes waiting in the direct buffer (some may be left
// there after a fallback to the page cache, see writeDirect).
func (f *File) flush() error {
	if f.n == 0 {
		return nil
	}
	k := f.n &^ (directAlign - 1)
	if k > 0 {
		if err := f.writeDirect(f.buf[:k]); err != nil {
			return err
		}
	}
	if k == f.n {
		return nil
	}
	if f.direct {
		if err := setDirect(f.f, false); err != nil {
			return err
		}
		f.direct = false
	}
	_, err := f.f.Write(f.buf[k:f.n])
	f.n = 0
	return err
}

// aligned reports whether p starts at an aligned address.
func aligned(p []byte) bool { return uintptr(unsafe.Pointer(&p[0]))%directAlign == 0 }
