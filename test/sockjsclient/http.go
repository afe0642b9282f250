package sockjsclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// bodyBufferSize is the read buffer of a receiving response; longer lines
// are gathered in a scratch buffer that is reused.
const bodyBufferSize = 16 << 10

// maxErrorBody bounds how much of an error response HTTPError keeps.
const maxErrorBody = 4 << 10

// HTTPError is a non-success HTTP answer to a receiving or sending request.
type HTTPError struct {
	Method     string
	URL        string
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("sockjsclient: %s %s: HTTP %d: %q", e.Method, e.URL, e.StatusCode, e.Body)
}

// httpTransport describes one HTTP receiving transport.
type httpTransport struct {
	method   string // of the receiving request
	path     string // receiving path after the session URL
	sendPath string // "xhr_send" or "jsonp_send"
	callback bool   // the receiving URL takes ?c=<callback>
	// decoder makes the Conn's frame decoder over lr.
	decoder func(c *Conn, lr *lineReader) frameDecoder
}

var httpTransports = map[string]*httpTransport{
	TransportXHRPolling: {method: http.MethodPost, path: "xhr", sendPath: "xhr_send",
		decoder: func(_ *Conn, lr *lineReader) frameDecoder { return &xhrDecoder{lr: lr} }},
	TransportXHRStreaming: {method: http.MethodPost, path: "xhr_streaming", sendPath: "xhr_send",
		decoder: func(_ *Conn, lr *lineReader) frameDecoder { return &xhrDecoder{lr: lr, streaming: true} }},
	TransportEventSource: {method: http.MethodGet, path: "eventsource", sendPath: "xhr_send",
		decoder: func(_ *Conn, lr *lineReader) frameDecoder { return &eventSourceDecoder{lr: lr} }},
	TransportHTMLFile: {method: http.MethodGet, path: "htmlfile", sendPath: "xhr_send", callback: true,
		decoder: func(_ *Conn, lr *lineReader) frameDecoder { return &htmlfileDecoder{lr: lr} }},
	TransportJSONP: {method: http.MethodGet, path: "jsonp", sendPath: "jsonp_send", callback: true,
		decoder: func(c *Conn, lr *lineReader) frameDecoder { return &jsonpDecoder{lr: lr, callback: c.opts.Callback} }},
}

func (c *Conn) startHTTP() error {
	t, ok := httpTransports[c.transport]
	if !ok {
		return fmt.Errorf("sockjsclient: unknown transport %q", c.transport)
	}
	c.http = t
	if c.client == nil {
		c.own = newSessionTransport()
		c.client = &http.Client{Transport: c.own}
	}
	go c.receiveHTTP()
	return nil
}

// receiveHTTP keeps exactly one receiving request outstanding until the
// session ends: a poll is repeated when it returns, a stream is reopened
// when it ends at the response limit.
func (c *Conn) receiveHTTP() {
	defer close(c.recvDone)
	var extra string
	if c.http.callback {
		extra = "c=" + url.QueryEscape(c.opts.Callback)
	}
	recvURL := c.withQuery(c.sessionURL+"/"+c.http.path, extra)
	lr := &lineReader{br: bufio.NewReaderSize(nil, bodyBufferSize)}
	dec := c.http.decoder(c, lr)
	for {
		more, err := c.receiveOnce(recvURL, lr.br, dec)
		if err != nil {
			c.finish(err)
			return
		}
		if !more {
			return
		}
	}
}

// receiveOnce runs one receiving request; more is false once a frame ended
// the session.
func (c *Conn) receiveOnce(recvURL string, br *bufio.Reader, dec frameDecoder) (more bool, err error) {
	c.requests.Add(1)
	resp, err := c.do(c.ctx, c.http.method, recvURL, "", nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, httpError(resp)
	}
	br.Reset(resp.Body)
	dec.reset()
	for n := 0; ; n++ {
		frame, err := dec.next()
		if errors.Is(err, io.EOF) && n == 0 {
			// Polling again at once would spin.
			return false, fmt.Errorf("sockjsclient: %s receive: response without a frame", c.transport)
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("sockjsclient: %s receive: %w", c.transport, err)
		}
		if !c.handleRaw(frame) {
			return false, nil
		}
	}
}

// sendHTTP posts msgs to xhr_send (a JSON body) or jsonp_send (form d=...).
func (c *Conn) sendHTTP(ctx context.Context, msgs []string) error {
	payload, err := encodeMessages(msgs)
	if err != nil {
		return err
	}
	sendURL := c.withQuery(c.sessionURL+"/"+c.http.sendPath, "")
	contentType := "text/plain;charset=UTF-8"
	if c.http.sendPath == "jsonp_send" {
		payload = []byte("d=" + url.QueryEscape(string(payload)))
		contentType = "application/x-www-form-urlencoded"
	}
	resp, err := c.do(ctx, http.MethodPost, sendURL, contentType, payload)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return httpError(resp)
	}
	_, err = io.Copy(io.Discard, resp.Body) // lets the connection be reused
	return err
}

// do sends one request with the configured headers.
func (c *Conn) do(ctx context.Context, method, u, contentType string, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, fmt.Errorf("sockjsclient: %w", err)
	}
	for k, vs := range c.opts.Header {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sockjsclient: %s %s: %w", method, pathOf(u), err)
	}
	return resp, nil
}

func httpError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &HTTPError{
		Method:     resp.Request.Method,
		URL:        resp.Request.URL.String(),
		StatusCode: resp.StatusCode,
		Body:       string(b),
	}
}

// pathOf shortens a URL to its path for error messages.
func pathOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			return u[i+3+j:]
		}
	}
	return u
}
