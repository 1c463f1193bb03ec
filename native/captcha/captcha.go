// Package captcha checks the captcha answers that account creation and
// password-reset requests carry, against a reCAPTCHA-style verification
// service reached over HTTP.
package captcha

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Verifier checks one captcha answer. challenge is the legacy reCAPTCHA v1
// challenge id (empty with newer protocols); response is the user's answer
// or token; remoteIP the client address the service may cross-check.
type Verifier interface {
	Verify(ctx context.Context, challenge, response, remoteIP string) (bool, error)
	// HTML is the widget fragment served at /misc/1.0/captcha_html.
	HTML() string
}

// Protocol selects the verification wire format.
type Protocol int

const (
	// SiteVerify: POST secret, response, remoteip as a form; JSON answer
	// {"success": bool}. reCAPTCHA v2/v3 and compatible services.
	SiteVerify Protocol = iota
	// LegacyV1: POST privatekey, remoteip, challenge, response; the answer
	// is "true" or "false\n<reason>" — what Weave clients' captcha-challenge
	// and captcha-response fields were made for.
	LegacyV1
)

// Config configures a ReCaptcha verifier.
type Config struct {
	Protocol   Protocol
	VerifyURL  string // e.g. https://www.google.com/recaptcha/api/siteverify
	PublicKey  string // site key, shown in the widget
	PrivateKey string // secret, sent to VerifyURL only
	// ScriptURL is the widget script; a default per protocol when empty.
	ScriptURL string
	Client    *http.Client  // http.DefaultClient's transport with Timeout when nil
	Timeout   time.Duration // 10s when zero
}

// ReCaptcha verifies answers over HTTP.
type ReCaptcha struct {
	cfg  Config
	html string
}

var _ Verifier = (*ReCaptcha)(nil)

var widgetTmpl = template.Must(template.New("w").Parse(
	`{{if .V1}}<script type="text/javascript" src="{{.Script}}?k={{.Key}}"></script>
<noscript><iframe src="{{.NoScript}}?k={{.Key}}" height="300" width="500" frameborder="0"></iframe><br>
<textarea name="recaptcha_challenge_field" rows="3" cols="40"></textarea>
<input type="hidden" name="recaptcha_response_field" value="manual_challenge"></noscript>
{{else}}<script src="{{.Script}}" async defer></script>
<div class="g-recaptcha" data-sitekey="{{.Key}}"></div>
{{end}}`))

// New returns a verifier for cfg.
func New(cfg Config) (*ReCaptcha, error) {
	if cfg.VerifyURL == "" || cfg.PrivateKey == "" {
		return nil, fmt.Errorf("captcha: VerifyURL and PrivateKey are required")
	}
	if _, err := url.Parse(cfg.VerifyURL); err != nil {
		return nil, fmt.Errorf("captcha: VerifyURL: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	data := struct {
		V1                    bool
		Script, NoScript, Key string
	}{V1: cfg.Protocol == LegacyV1, Script: cfg.ScriptURL, Key: cfg.PublicKey}
	if data.Script == "" {
		data.Script = "https://www.google.com/recaptcha/api.js"
		if data.V1 {
			data.Script = "https://www.google.com/recaptcha/api/challenge"
		}
	}
	data.NoScript = strings.TrimSuffix(data.Script, "/challenge") + "/noscript"
	var b bytes.Buffer
	if err := widgetTmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("captcha: widget: %w", err)
	}
	return &ReCaptcha{cfg: cfg, html: b.String()}, nil
}

// HTML implements Verifier.
func (c *ReCaptcha) HTML() string { return c.html }

// Verify implements Verifier. An empty response is false without asking
// the service; a service that cannot be reached or answers nonsense is an
// error (callers answer 503, not "wrong captcha").
func (c *ReCaptcha) Verify(ctx context.Context, challenge, response, remoteIP string) (bool, error) {
	if response == "" || (c.cfg.Protocol == LegacyV1 && challenge == "") {
		return false, nil
	}
	form := url.Values{"remoteip": {remoteIP}, "response": {response}}
	if c.cfg.Protocol == LegacyV1 {
		form.Set("privatekey", c.cfg.PrivateKey)
		form.Set("challenge", challenge)
	} else {
		form.Set("secret", c.cfg.PrivateKey)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.VerifyURL, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("captcha: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("captcha: verify: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return false, fmt.Errorf("captcha: verify: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("captcha: verify: status %d", resp.StatusCode)
	}
	return c.decode(body)
}

func (c *ReCaptcha) decode(body []byte) (bool, error) {
	if c.cfg.Protocol == LegacyV1 {
		first, _, _ := strings.Cut(string(body), "\n")
		switch strings.TrimSpace(first) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("captcha: verify: unexpected answer %.40q", body)
	}
	var v struct {
		Success *bool `json:"success"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Success == nil {
		return false, fmt.Errorf("captcha: verify: unexpected answer %.40q", body)
	}
	return *v.Success, nil
}
