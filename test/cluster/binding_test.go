package cluster_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// clientFrom is an HTTP client whose connections leave from local (a
// second loopback address makes a second client).
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func postStatus(t *testing.T, c *http.Client, url, body string) (int, string) {
	t.Helper()
	res, err := c.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestRoundRobinKeepsBinding: a session is bound to the address that made
// it on every node, not only on its own. A send from another address
// (127.0.0.2) through another node gets 404 as for an unknown session, and
// its poll there opens a session of its own; the owner's client, through
// that same node, is served.
func TestRoundRobinKeepsBinding(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	nodes := startNodes(t, nats.URL(), 2)
	a, b := nodes[0], nodes[1]
	owner, stranger := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	path := "/echo/000/bound1"

	if code, body := postStatus(t, owner, a.url+path+"/xhr", ""); code != 200 || body != "o\n" {
		t.Fatalf("open on node a: %d %q", code, body)
	}
	if code, body := postStatus(t, stranger, b.url+path+"/xhr_send", `["from the stranger"]`); code != http.StatusNotFound {
		t.Fatalf("a send from another address through node b: %d %q, want 404", code, body)
	}
	if code, body := postStatus(t, stranger, b.url+path+"/xhr", ""); code != 200 || body != "o\n" {
		t.Fatalf("a poll from another address through node b: %d %q, want a session of its own (o)", code, body)
	}
	if code, body := postStatus(t, owner, b.url+path+"/xhr_send", `["from the owner"]`); code != http.StatusNoContent {
		t.Fatalf("the owner's send through node b: %d %q, want 204", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.url+path+"/xhr", nil)
	res, err := owner.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got := string(body); got != "a[\"from the owner\"]\n" {
		t.Fatalf("the owner's poll through node b: %q, want only its own message", got)
	}
}
