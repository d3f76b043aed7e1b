package storagetest

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/normreg/normreg/storage"
)

// errInjected is the error faultyDriver gives: a storage error, or the point
// where a registry process was killed.
var errInjected = errors.New("injected storage failure")

// faultyDriver is a Driver that fails chosen calls once each (see failNext).
// It has no Move, and PutFresh when the driver it wraps has it.
type faultyDriver struct {
	storage.Driver
	mu     sync.Mutex
	faults []fault
}

// fault is a call to fail, or to precede with before: the next one of op
// (a Driver method's name) on a key that starts with prefix.
type fault struct {
	op, prefix string
	before     func() // nil: fail the call
}

// failNext makes the next call of op on a key starting with prefix fail
// with errInjected.
func (f *faultyDriver) failNext(op, prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fault{op: op, prefix: prefix})
}

// beforeNext runs before ahead of the next call of op on a key starting
// with prefix (another request's work, racing the one making the call).
func (f *faultyDriver) beforeNext(op, prefix string, before func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fault{op: op, prefix: prefix, before: before})
}

// injected returns errInjected, and forgets the fault, if a call of op on
// key is to fail; if the call is to be preceded, it runs that first.
func (f *faultyDriver) injected(op, key string) error {
	f.mu.Lock()
	i := slices.IndexFunc(f.faults, func(x fault) bool { return x.op == op && strings.HasPrefix(key, x.prefix) })
	if i < 0 {
		f.mu.Unlock()
		return nil
	}
	x := f.faults[i]
	f.faults = slices.Delete(f.faults, i, i+1)
	f.mu.Unlock()
	if x.before != nil {
		x.before()
		return nil
	}
	return errInjected
}

// Get implements storage.Driver.
func (f *faultyDriver) Get(ctx context.Context, key string, max int64) ([]byte, string, error) {
	if err := f.injected("Get", key); err != nil {
		return nil, "", err
	}
	return f.Driver.Get(ctx, key, max)
}

// Delete implements storage.Driver.
func (f *faultyDriver) Delete(ctx context.Context, key string) error {
	if err := f.injected("Delete", key); err != nil {
		return err
	}
	return f.Driver.Delete(ctx, key)
}

// PutIf implements storage.Driver.
func (f *faultyDriver) PutIf(ctx context.Context, key string, data []byte, ifVersion string) (string, error) {
	if err := f.injected("PutIf", key); err != nil {
		return "", err
	}
	return f.Driver.PutIf(ctx, key, data, ifVersion)
}

// PutFresh implements storage.FreshPutter with the wrapped driver's
// PutFresh, or its Put.
func (f *faultyDriver) PutFresh(ctx context.Context, key string, r io.Reader, size int64) error {
	if p, ok := f.Driver.(storage.FreshPutter); ok {
		return p.PutFresh(ctx, key, r, size)
	}
	return f.Driver.Put(ctx, key, r, size)
}
