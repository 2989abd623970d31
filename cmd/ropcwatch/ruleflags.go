package main

import (
	"flag"
	"fmt"
	"io"

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
	rule := detector.SeedRule()
	if *o.rule != "" {
		r, err := detector.LoadRuleFile(*o.rule)
		if err != nil {
			return nil, nil, fmt.Errorf("--rule: %w", err)
		}
		rule = r
	}
	for _, warn := range rule.Warnings {
		fmt.Fprintf(w, "rule warning: %s\n", warn)
	}
	if *o.allowlist == "" {
		return rule, nil, nil
	}
	nets, err := detector.LoadNetworkAllowlist(*o.allowlist)
	if err != nil {
		return nil, nil, fmt.Errorf("--allowlist: %w", err)
	}
	for _, s := range nets.Skipped {
		fmt.Fprintf(w, "allowlist: line %d: skipped %q: %s\n", s.Line, s.Value, s.Reason)
	}
	return rule, nets, nil
}
