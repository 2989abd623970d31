package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ropcwatch/ropcwatch/detector"
)

// ruleOptions are the flags that choose the rule and its network allowlist,
// shared by every command that evaluates the rule.
type ruleOptions struct {
	rule      *string
	allowlist *string
}

func ruleFlags(fs *flag.FlagSet) ruleOptions {
	return ruleOptions{
		rule:      fs.String("rule", "", "the rule's Sentinel YAML (`FILE`); default: the built-in seed rule"),
		allowlist: fs.String("allowlist", "", "NetworkAllowlist watchlist CSV (`FILE`, column SearchKey or IPOrRange); default: none"),
	}
}

// load reads the rule and allowlist, reporting warnings and skipped
// allowlist entries on w.
func (o ruleOptions) load(w io.Writer) (*detector.Rule, *detector.NetworkAllowlist, error) {
	c, err := o.read(w)
	if err != nil {
		return nil, nil, err
	}
	return c.Rule, c.Allowlist, nil
}

// read loads the rule and allowlist files once, with the version of their
// content: the first 12 hex digits of a SHA-256 over both files.
func (o ruleOptions) read(w io.Writer) (detector.Config, error) {
	h := sha256.New()
	c := detector.Config{Rule: detector.SeedRule()}
	if *o.rule != "" {
		data, err := os.ReadFile(*o.rule)
		if err != nil {
			return c, fmt.Errorf("--rule: %w", err)
		}
		if c.Rule, err = detector.LoadRule(data); err != nil {
			return c, fmt.Errorf("--rule %s: %w", *o.rule, err)
		}
		h.Write(data)
	}
	h.Write([]byte{0})
	for _, warn := range c.Rule.Warnings {
		fmt.Fprintf(w, "rule warning: %s\n", warn)
	}
	if *o.allowlist != "" {
		data, err := os.ReadFile(*o.allowlist)
		if err != nil {
			return c, fmt.Errorf("--allowlist: %w", err)
		}
		if c.Allowlist, err = detector.ParseNetworkAllowlist(bytes.NewReader(data)); err != nil {
			return c, fmt.Errorf("--allowlist %s: %w", *o.allowlist, err)
		}
		for _, s := range c.Allowlist.Skipped {
			fmt.Fprintf(w, "allowlist: line %d: skipped %q: %s\n", s.Line, s.Value, s.Reason)
		}
		h.Write(data)
	}
	c.Version = hex.EncodeToString(h.Sum(nil))[:12]
	return c, nil
}
