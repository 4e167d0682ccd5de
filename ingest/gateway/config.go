package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources/hubspot"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/zendesk"
	"github.com/secimpact/impact/internal/config"
)

// Source names: the path of POST /webhooks/<source>, the label of the
// metrics and the suffix of the raw topic.
const (
	GitHub    = "github"
	GitLab    = "gitlab"
	PagerDuty = "pagerduty"
	Zendesk   = "zendesk"
	HubSpot   = "hubspot"
	// Events is POST /events (CloudEvents over HTTP), for metrics.
	Events = "events"
)

// Sources lists the webhook sources in a stable order.
var Sources = []string{GitHub, GitLab, PagerDuty, Zendesk, HubSpot}

// Secrets authenticate each source. An empty secret disables the source:
// its endpoint answers 404 rather than accepting unauthenticated requests.
type Secrets struct {
	GitHub    string // IMPACT_GITHUB_WEBHOOK_SECRET: the webhook secret (X-Hub-Signature-256)
	GitLab    string // IMPACT_GITLAB_WEBHOOK_SECRET: the secret token (X-Gitlab-Token)
	PagerDuty string // IMPACT_PAGERDUTY_WEBHOOK_SECRET: the subscription's signing secret
	Zendesk   string // IMPACT_ZENDESK_WEBHOOK_SECRET: the webhook's signing secret
	HubSpot   string // IMPACT_HUBSPOT_CLIENT_SECRET: the app's client secret (X-HubSpot-Signature-v3)
	Events    string // IMPACT_EVENTS_TOKEN: the bearer token of POST /events
}

func (s Secrets) of(source string) string {
	switch source {
	case GitHub:
		return s.GitHub
	case GitLab:
		return s.GitLab
	case PagerDuty:
		return s.PagerDuty
	case Zendesk:
		return s.Zendesk
	case HubSpot:
		return s.HubSpot
	case Events:
		return s.Events
	}
	return ""
}

// Env is how the gateway reads its secrets: each variable NAME may instead
// be given as NAME_FILE, the path of a file holding the value (Docker and
// Kubernetes secrets); setting both is an error.
type Env struct {
	Lookup   func(string) (string, bool)  // default os.LookupEnv
	ReadFile func(string) ([]byte, error) // default os.ReadFile
}

// Get returns the value of NAME or of the file NAME_FILE names, trimmed of
// surrounding white space (files usually end in a newline).
func (e Env) Get(name string) (string, error) {
	lookup, read := e.Lookup, e.ReadFile
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if read == nil {
		read = os.ReadFile
	}
	v, ok := lookup(name)
	f, fok := lookup(name + "_FILE")
	switch {
	case ok && v != "" && fok && f != "":
		return "", fmt.Errorf("both %s and %s_FILE are set; set one", name, name)
	case fok && f != "":
		b, err := read(f)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(v), nil
}

// FromEnv fills the secrets and vendor API settings of c from the
// environment (see Secrets, and docs/gateway.md for the API variables).
func (c *Config) FromEnv(e Env) error {
	var errs []error
	get := func(name string) string {
		v, err := e.Get(name)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	c.Secrets = Secrets{
		GitHub:    get("IMPACT_GITHUB_WEBHOOK_SECRET"),
		GitLab:    get("IMPACT_GITLAB_WEBHOOK_SECRET"),
		PagerDuty: get("IMPACT_PAGERDUTY_WEBHOOK_SECRET"),
		Zendesk:   get("IMPACT_ZENDESK_WEBHOOK_SECRET"),
		HubSpot:   get("IMPACT_HUBSPOT_CLIENT_SECRET"),
		Events:    get("IMPACT_EVENTS_TOKEN"),
	}
	if tok := get("IMPACT_HUBSPOT_ACCESS_TOKEN"); tok != "" {
		c.HubSpot = &hubspot.Client{Token: tok, BaseURL: get("IMPACT_HUBSPOT_API_URL")}
	}
	if base := get("IMPACT_ZENDESK_URL"); base != "" {
		c.Zendesk = &zendesk.Client{BaseURL: base, Email: get("IMPACT_ZENDESK_EMAIL"), Token: get("IMPACT_ZENDESK_API_TOKEN")}
	}
	if u := get("IMPACT_GATEWAY_PUBLIC_URL"); u != "" {
		c.PublicURL = u
	}
	return errors.Join(errs...)
}

// Config configures a Gateway. Zero values are the documented defaults;
// Validate names the first bad field.
type Config struct {
	Kafka   config.Kafka
	Mapping *mapping.File // nil: every mapping default
	Secrets Secrets

	// HubSpot reads a deal's current state after a deal webhook; required
	// when the HubSpot source is enabled (its webhooks carry only the
	// change).
	HubSpot *hubspot.Client
	// Zendesk, when set, reads a ticket's full state after an event
	// webhook; see zendesk.Map.
	Zendesk *zendesk.Client
	// PublicURL is the scheme and host senders use to reach the gateway
	// (https://impact.example.com), for HubSpot's signature, which covers
	// the URL it called. Default: this request's scheme and Host header,
	// wrong behind a TLS-terminating proxy.
	PublicURL string

	// MaxBodyBytes caps a request body (413 above it); default 1 MiB.
	MaxBodyBytes int64
	// RateLimit is the requests per second each source may send (429
	// above it, with Retry-After), RateBurst the burst; defaults 200/s and
	// twice the rate. A negative RateLimit disables the limit.
	RateLimit float64
	RateBurst int
	// PublishTimeout bounds waiting for Kafka's acknowledgement (503 after
	// it); default 10 s.
	PublishTimeout time.Duration
	// Linger is how long a publishing round waits for more requests
	// after its first; default 0: a round goes as soon as the previous one
	// is acknowledged, and the requests arriving meanwhile form the next
	// (see rounds.go), so batches grow with the load without a fixed wait.
	Linger time.Duration
	// RawTopicPrefix names the raw topics: <prefix><source>; default "raw.".
	RawTopicPrefix string

	Logger *slog.Logger     // default slog.Default()
	Now    func() time.Time // default time.Now; tests pin it
}

// topicPrefixRE is a prefix of a legal Kafka topic name (the source name
// follows it).
var topicPrefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]{0,200}$`)

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case len(c.Kafka.Brokers) == 0:
		return errors.New("gateway config: Kafka.Brokers is empty (set IMPACT_KAFKA_BROKERS or --brokers)")
	case c.Kafka.Validate() != nil:
		return fmt.Errorf("gateway config: %w", c.Kafka.Validate())
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("gateway config: MaxBodyBytes %d is negative", c.MaxBodyBytes)
	case math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0):
		return fmt.Errorf("gateway config: RateLimit %v is not a rate (negative: no limit)", c.RateLimit)
	case c.RateBurst < 0:
		return fmt.Errorf("gateway config: RateBurst %d is negative", c.RateBurst)
	case c.PublishTimeout < 0:
		return fmt.Errorf("gateway config: PublishTimeout %s is negative", c.PublishTimeout)
	case c.Linger < 0:
		return fmt.Errorf("gateway config: Linger %s is negative", c.Linger)
	case !topicPrefixRE.MatchString(c.RawTopicPrefix):
		return fmt.Errorf("gateway config: RawTopicPrefix %q may hold only letters, digits, '.', '_' and '-' (Kafka topic names)", c.RawTopicPrefix)
	case c.Secrets.HubSpot != "" && c.HubSpot == nil:
		return errors.New("gateway config: HubSpot is enabled (client secret set) but has no API access: set IMPACT_HUBSPOT_ACCESS_TOKEN, a private app token with crm.objects.deals.read, since HubSpot webhooks carry only the changed property")
	}
	if c.HubSpot != nil {
		if err := c.HubSpot.Validate(); err != nil {
			return fmt.Errorf("gateway config: %w", err)
		}
	}
	if c.Zendesk != nil {
		if err := c.Zendesk.Validate(); err != nil {
			return fmt.Errorf("gateway config: %w", err)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("gateway config: PublicURL %q must be scheme://host[:port]", c.PublicURL)
		}
	}
	enabled := false
	for _, s := range append(Sources, Events) {
		enabled = enabled || c.Secrets.of(s) != ""
	}
	if !enabled {
		return errors.New("gateway config: no source is enabled: set at least one of IMPACT_GITHUB_WEBHOOK_SECRET, IMPACT_GITLAB_WEBHOOK_SECRET, IMPACT_PAGERDUTY_WEBHOOK_SECRET, IMPACT_ZENDESK_WEBHOOK_SECRET, IMPACT_HUBSPOT_CLIENT_SECRET, IMPACT_EVENTS_TOKEN (or their _FILE forms)")
	}
	return nil
}

func (c *Config) maxBody() int64                { return cmp.Or(c.MaxBodyBytes, 1<<20) }
func (c *Config) publishTimeout() time.Duration { return cmp.Or(c.PublishTimeout, 10*time.Second) }
func (c *Config) rawPrefix() string {
	if c.RawTopicPrefix == "" {
		return "raw."
	}
	return c.RawTopicPrefix
}

// RawTopic is the raw topic of a source.
func (c *Config) RawTopic(source string) string { return c.rawPrefix() + source }

func (c *Config) rate() (float64, int) {
	r := c.RateLimit
	if r == 0 {
		r = 200
	}
	b := c.RateBurst
	if b == 0 {
		b = int(2 * r)
	}
	return r, max(b, 1)
}
