package transport

import "testing"

// TestNames: the names are sockjs-client's, each once in All.
func TestNames(t *testing.T) {
	want := []string{"websocket", "xhr-streaming", "xhr-polling", "eventsource", "htmlfile", "jsonp-polling", "raw-websocket"}
	if len(All) != len(want) {
		t.Fatalf("All has %d names, want %d", len(All), len(want))
	}
	for i, n := range All {
		if n.String() != want[i] {
			t.Errorf("All[%d] = %q, want %q", i, n, want[i])
		}
		if !Known(n) {
			t.Errorf("Known(%q) = false", n)
		}
	}
	if Known("carrier-pigeon") || Known("") {
		t.Error("Known accepts a name that is no transport")
	}
}
