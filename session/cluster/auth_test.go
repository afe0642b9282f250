package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// tryConnect is cluster.NATS with a short timeout, for connections that
// may be refused.
func tryConnect(t *testing.T, url string, opts cluster.NATSOptions) (*cluster.NATSBus, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	opts.ConnectTimeout = 2 * time.Second
	b, err := cluster.NATS(ctx, url, opts)
	if err == nil {
		t.Cleanup(func() { _ = b.Close() })
	}
	return b, err
}

// roundTrip checks that b carries an event to its own subscription.
func roundTrip(t *testing.T, b *cluster.NATSBus) {
	t.Helper()
	r := newRecorder("r")
	subscribe(t, b, "room", r)
	publish(t, b, "room", "hello")
	if got := r.waitFor(t, 1); !slices.Equal(got, []string{"hello"}) {
		t.Fatalf("applied %q", got)
	}
}

// TestNATSNkeyAuth: on a server that knows one NKey user, a node with that
// user's seed file connects and carries events; one without is refused
// with the server's authorization error; a missing seed file is named.
func TestNATSNkeyAuth(t *testing.T) {
	t.Parallel()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "node.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := clustertest.StartNATSWith(t, false, func(o *server.Options) {
		o.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	})
	if _, err := tryConnect(t, srv.URL(), cluster.NATSOptions{NodeID: "anon"}); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("without credentials: %v; want an authorization error", err)
	}
	b, err := tryConnect(t, srv.URL(), cluster.NATSOptions{NodeID: "nk", Auth: cluster.NATSAuth{NkeyFile: seedFile}})
	if err != nil {
		t.Fatalf("with the nkey seed: %v", err)
	}
	roundTrip(t, b)
	missing := filepath.Join(t.TempDir(), "absent.nk")
	if _, err := tryConnect(t, srv.URL(), cluster.NATSOptions{Auth: cluster.NATSAuth{NkeyFile: missing}}); err == nil ||
		!strings.Contains(err.Error(), missing) {
		t.Fatalf("missing seed file: %v; want an error naming it", err)
	}
}

// TestNATSUserPassword: user and password in the URL; a wrong password is
// refused.
func TestNATSUserPassword(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATSWith(t, false, func(o *server.Options) {
		o.Users = []*server.User{{Username: "sockgate", Password: "s3cret"}}
	})
	withUser := func(pass string) string {
		return strings.Replace(srv.URL(), "nats://", "nats://sockgate:"+pass+"@", 1)
	}
	if _, err := tryConnect(t, withUser("wrong"), cluster.NATSOptions{NodeID: "bad"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	b, err := tryConnect(t, withUser("s3cret"), cluster.NATSOptions{NodeID: "good"})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	roundTrip(t, b)
}

// TestNATSTLS: a server with TLS that verifies client certificates; a node
// with -nats-ca-file and a client certificate connects; one without the CA
// is refused, as is one without a client certificate; a certificate
// without its key is a configuration error.
func TestNATSTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCA(t)
	srvCert := ca.issue(t, "127.0.0.1", true)
	cliCert := ca.issue(t, "sockgate-node", false)
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.cert.Raw)
	certFile := writePEM(t, dir, "node.pem", "CERTIFICATE", cliCert.Certificate[0])
	keyFile := writeKey(t, dir, "node-key.pem", cliCert.PrivateKey.(*ecdsa.PrivateKey))
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := clustertest.StartNATSWith(t, false, func(o *server.Options) {
		o.TLS, o.TLSVerify = true, true
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	})
	if _, err := tryConnect(t, srv.URL(), cluster.NATSOptions{NodeID: "noca"}); err == nil {
		t.Fatal("connected without the CA")
	}
	if _, err := tryConnect(t, srv.URL(), cluster.NATSOptions{NodeID: "nocert", Auth: cluster.NATSAuth{CAFile: caFile}}); err == nil {
		t.Fatal("connected without a client certificate")
	}
	if _, err := tryConnect(t, srv.URL(), cluster.NATSOptions{Auth: cluster.NATSAuth{CAFile: caFile, CertFile: certFile}}); err == nil ||
		!strings.Contains(err.Error(), "key") {
		t.Fatalf("certificate without its key: %v; want an error asking for both", err)
	}
	b, err := tryConnect(t, srv.URL(), cluster.NATSOptions{NodeID: "tls",
		Auth: cluster.NATSAuth{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}})
	if err != nil {
		t.Fatalf("with CA and client certificate: %v", err)
	}
	roundTrip(t, b)
}

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// issue makes a server certificate for the IP name, or a client one.
func (ca *testCA) issue(t *testing.T, name string, isServer bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if isServer {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP(name)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeKey(t *testing.T, dir, name string, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "EC PRIVATE KEY", der)
}
