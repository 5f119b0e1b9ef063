// An independent check of Cairn's witness cosignatures (C2SP tlog-cosignature
// v1.0.1, Ed25519 type 0x04) with Go's crypto/ed25519 and
// golang.org/x/mod/sumdb/note, which has no 0x04 verifier of its own: the one
// below is written from the spec alone.
//
//	go run . vector            prints a fixed-key vector as JSON
//	go run . verify LOG WIT    reads a note on stdin, opens it with the log's
//	                           vkey (0x01) and the witness's vkey (0x04)
//
// Run with GO111MODULE=off GOPATH=/usr/share/gocode (Debian's
// golang-golang-x-mod-dev), offline.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

const cosignatureType = 0x04

func keyHash(name string, typ byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write([]byte{typ})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func cosignedMessage(timestamp uint64, text []byte) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", timestamp)), text...)
}

type cosigner struct {
	name      string
	priv      ed25519.PrivateKey
	timestamp uint64
}

func (c cosigner) Name() string { return c.name }
func (c cosigner) KeyHash() uint32 {
	return keyHash(c.name, cosignatureType, c.priv.Public().(ed25519.PublicKey))
}
func (c cosigner) Sign(msg []byte) ([]byte, error) {
	out := make([]byte, 8, 8+ed25519.SignatureSize)
	binary.BigEndian.PutUint64(out, c.timestamp)
	return append(out, ed25519.Sign(c.priv, cosignedMessage(c.timestamp, msg))...), nil
}

type cosignatureVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (v cosignatureVerifier) Name() string    { return v.name }
func (v cosignatureVerifier) KeyHash() uint32 { return v.hash }
func (v cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	timestamp := binary.BigEndian.Uint64(sig)
	if timestamp == 0 || timestamp > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(timestamp, msg), sig[8:])
}

// parseCosignatureVerifier reads <name>+<hex key ID>+base64(0x04 || key).
func parseCosignatureVerifier(vkey string) (cosignatureVerifier, error) {
	name, rest, ok := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok || !ok2 || len(hash16) != 8 {
		return cosignatureVerifier{}, errors.New("malformed cosignature verifier key")
	}
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if err1 != nil || err2 != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != cosignatureType {
		return cosignatureVerifier{}, errors.New("malformed cosignature verifier key")
	}
	v := cosignatureVerifier{name: name, hash: uint32(hash), pub: ed25519.PublicKey(key[1:])}
	if keyHash(name, cosignatureType, v.pub) != v.hash {
		return cosignatureVerifier{}, errors.New("cosignature verifier key ID mismatch")
	}
	return v, nil
}

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, ed25519.SeedSize) }

func vector() error {
	const origin = "interop.cairn.example/log"
	const witnessName = "interop.witness.example/w1"
	const timestamp = 1700000000
	logPriv := ed25519.NewKeyFromSeed(seed(0x11))
	logPub := logPriv.Public().(ed25519.PublicKey)
	logVkey, err := note.NewEd25519VerifierKey(origin, logPub)
	if err != nil {
		return err
	}
	logSkey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", origin, keyHash(origin, 0x01, logPub),
		base64.StdEncoding.EncodeToString(append([]byte{0x01}, seed(0x11)...)))
	logSigner, err := note.NewSigner(logSkey)
	if err != nil {
		return err
	}
	witPriv := ed25519.NewKeyFromSeed(seed(0x22))
	witPub := witPriv.Public().(ed25519.PublicKey)
	witHash := keyHash(witnessName, cosignatureType, witPub)
	witVkey := fmt.Sprintf("%s+%08x+%s", witnessName, witHash,
		base64.StdEncoding.EncodeToString(append([]byte{cosignatureType}, witPub...)))
	witKeyFile := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", witnessName, witHash,
		base64.StdEncoding.EncodeToString(append([]byte{cosignatureType}, seed(0x22)...)))
	root := sha256.Sum256([]byte("interop root"))
	text := fmt.Sprintf("%s\n1234\n%s\n", origin, base64.StdEncoding.EncodeToString(root[:]))
	checkpoint, err := note.Sign(&note.Note{Text: text}, logSigner)
	if err != nil {
		return err
	}
	cosigned, err := note.Sign(&note.Note{Text: text}, logSigner,
		cosigner{name: witnessName, priv: witPriv, timestamp: timestamp})
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(map[string]any{
		"comment":            "made by test/interop/cosignature/main.go (Go crypto/ed25519, x/mod/sumdb/note); seeds 0x11.. and 0x22..",
		"logVerifierKey":     logVkey,
		"logSignerKey":       logSkey,
		"witnessVerifierKey": witVkey,
		"witnessKeyFile":     witKeyFile,
		"timestamp":          timestamp,
		"checkpoint":         string(checkpoint),
		"cosigned":           string(cosigned),
	}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func verify(logVkey, witVkey string) error {
	logVerifier, err := note.NewVerifier(logVkey)
	if err != nil {
		return err
	}
	witVerifier, err := parseCosignatureVerifier(witVkey)
	if err != nil {
		return err
	}
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(logVerifier, witVerifier))
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, sig := range n.Sigs {
		names[sig.Name] = true
	}
	if !names[logVerifier.Name()] || !names[witVerifier.Name()] {
		return fmt.Errorf("want signatures by %s and %s, got %d", logVerifier.Name(), witVerifier.Name(), len(n.Sigs))
	}
	fmt.Printf("ok %d signatures\n", len(n.Sigs))
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 2 && os.Args[1] == "vector":
		err = vector()
	case len(os.Args) == 4 && os.Args[1] == "verify":
		err = verify(os.Args[2], os.Args[3])
	default:
		err = errors.New("usage: vector | verify <log vkey> <witness vkey>")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
