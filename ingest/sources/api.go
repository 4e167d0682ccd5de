package sources

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// APIError is a vendor API's non-2xx answer (other than 404, which
// GetJSON reports as found=false).
type APIError struct {
	Vendor     string // e.g. hubspot
	Code       int
	RetryAfter string // the Retry-After header of a 429 or 5xx, as sent
	Body       string // the first 512 bytes of the answer
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s API answered %d: %s", e.Vendor, e.Code, e.Body)
}

// DefaultHTTPClient is the HTTP client of vendor API reads: a 10 s bound
// on each call.
var DefaultHTTPClient = &http.Client{Timeout: 10 * time.Second}

// GetJSON sends req (with hc, DefaultHTTPClient when nil) and decodes a 2xx
// JSON answer into out. found is false for a 404 (the object is gone);
// other answers are an *APIError. Answers are read up to 8 MiB.
func GetJSON(hc *http.Client, req *http.Request, vendor string, out any) (found bool, err error) {
	if hc == nil {
		hc = DefaultHTTPClient
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("%s API: %w", vendor, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return false, fmt.Errorf("%s API: read answer: %w", vendor, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode/100 != 2:
		return false, &APIError{Vendor: vendor, Code: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: string(body[:min(len(body), 512)])}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("%s API: decode answer: %w", vendor, err)
	}
	return true, nil
}
