package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// credentials is the file `regctl login` writes (0600):
// {"registries": {"host:port": {"token": "..."}}}.
type credentials struct {
	Registries map[string]credential `json:"registries"`
}

// credential is what is stored for one registry.
type credential struct {
	Token string `json:"token"`
}

// credentialsPath is $XDG_CONFIG_HOME/normreg/credentials.json, or
// ~/.config/normreg/credentials.json.
func credentialsPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep credentials")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "normreg", "credentials.json"), nil
}

// loadCredentials reads the credentials file; a missing file is empty.
func loadCredentials(getenv func(string) string) (*credentials, error) {
	c := &credentials{Registries: map[string]credential{}}
	path, err := credentialsPath(getenv)
	if err != nil {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("credentials file %s is not valid JSON: %w", path, err)
	}
	if c.Registries == nil {
		c.Registries = map[string]credential{}
	}
	return c, nil
}

// save writes the credentials atomically, readable by the owner only.
func (c *credentials) save(getenv func(string) string) (string, error) {
	path, err := credentialsPath(getenv)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}
