package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check policy files and print the data-protection table",
	}
	check := &cobra.Command{
		Use:   "check FILE...",
		Short: "Validate policy files; every problem is printed as FILE:LINE:COL: message",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, path := range args {
				p, err := policy.LoadFile(path)
				if err != nil {
					failed++
					for _, line := range strings.Split(err.Error(), "\n") {
						fmt.Fprintln(cmd.ErrOrStderr(), line)
					}
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d collections)\n", path, len(p.Collections))
			}
			if failed > 0 {
				return withKind(lethe.ErrInvalid, "%d of %d policy files invalid", failed, len(args))
			}
			return nil
		},
	}
	var pack, file string
	doc := &cobra.Command{
		Use:   "doc",
		Short: "Print a policy's data-protection table as Markdown (from the policy itself)",
		Long: `Print the data-protection table (storage kinds, retention, expiry basis,
personal data held and how it is anonymized) as Markdown, generated from the
policy, so that what customers read stays true to the configuration.
Give --pack NAME for a shipped pack or --file FILE for your own policy;
with neither, every pack is printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []*policy.Policy
			switch {
			case pack != "" && file != "":
				return fmt.Errorf("%w: give --pack or --file, not both", errUsage)
			case file != "":
				p, err := policy.LoadFile(file)
				if err != nil {
					return err
				}
				ps = append(ps, p)
			case pack != "":
				p, err := policy.Pack(pack)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				ps = append(ps, p)
			default:
				for _, name := range policy.PackNames() {
					p, err := policy.Pack(name)
					if err != nil {
						return err
					}
					ps = append(ps, p)
				}
			}
			for i, p := range ps {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				if err := policy.WriteDoc(cmd.OutOrStdout(), p); err != nil {
					return err
				}
			}
			return nil
		},
	}
	doc.Flags().StringVar(&pack, "pack", "", "a shipped pack: chatbot, conversations, erp-marketplace")
	doc.Flags().StringVar(&file, "file", "", "a policy file")
	cmd.AddCommand(check, doc)
	return cmd
}
