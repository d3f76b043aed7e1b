package storagetest

import (
	"testing"

	"github.com/normreg/normreg/storage"
)

// runStores checks the stores built on a driver.
func runStores(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
}
