package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/rails/live"
	"github.com/malipo/malipo/secrets"
	"github.com/malipo/malipo/store"
)

// keyring reads the master keys: from --master-key-file, or else from
// MALIPO_MASTER_KEY (never a flag: a flag's value shows in ps).
func (c *cli) keyring(e *env) (*secrets.Keyring, error) {
	text := e.getenv("MALIPO_MASTER_KEY")
	if c.MasterKeyFile != "" {
		if text != "" {
			return nil, fmt.Errorf("both MALIPO_MASTER_KEY and --master-key-file are set: use one")
		}
		b, err := os.ReadFile(c.MasterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("master key file: %w", err)
		}
		text = strings.TrimSpace(string(b))
	}
	return secrets.Parse(text)
}

type railsCmd struct {
	Add   railsAddCmd   `cmd:"" help:"Add a live rail (an operator account) for the whole gateway; prints {\"id\":…} and its callback path."`
	List  railsListCmd  `cmd:"" help:"List the live rails, without their credentials."`
	Rekey railsRekeyCmd `cmd:"" help:"Seal every rail's credentials again under the current master key (the first of MALIPO_MASTER_KEY)."`
}

type railsAddCmd struct {
	Kind     string `required:"" help:"Connector: mtn-momo, mpesa or airtel."`
	Config   string `required:"" help:"The connector's configuration as JSON, or @file to read it from a file (what malipo simulate prints under \"config\")."`
	Position int    `default:"0" help:"Order among rails serving the same operator: the lowest healthy one is used."`
}

func (a railsAddCmd) Run(c *cli, e *env) error {
	keys, err := c.keyring(e)
	if err != nil {
		return err
	}
	config := []byte(a.Config)
	if file, ok := strings.CutPrefix(a.Config, "@"); ok {
		if config, err = os.ReadFile(file); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	st, err := openStore(e.ctx, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	r, path, err := live.New(a.Kind, config, a.Position, keys, ids.New(time.Now, nil).ID("rail"), now)
	if err != nil {
		return err
	}
	if err := st.Transact(e.ctx, func(tx store.Tx) error { return tx.CreateRail(r) }); err != nil {
		if malipo.KindOf(err) == malipo.KindConflict {
			return fmt.Errorf("a rail named %s exists already", r.Name)
		}
		return err
	}
	return printJSON(e.stdout, map[string]any{"id": r.ID, "name": r.Name, "kind": r.Kind, "mode": r.Mode,
		"countries": r.Countries, "operators": r.Operators, "currencies": r.Currencies, "position": r.Position,
		"callback_path": path,
		"note":          "Shown once: callbacks come to your --base-url followed by callback_path. Restart malipo serve to use the rail."})
}

type railsListCmd struct{}

func (railsListCmd) Run(c *cli, e *env) error {
	st, err := openStore(e.ctx, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	var list []malipo.Rail
	if err := st.Read(e.ctx, func(tx store.Tx) (err error) {
		list, err = tx.ListRails()
		return err
	}); err != nil {
		return err
	}
	out := []map[string]any{}
	for _, r := range list {
		out = append(out, map[string]any{"id": r.ID, "name": r.Name, "kind": r.Kind, "mode": r.Mode, "countries": r.Countries,
			"operators": r.Operators, "currencies": r.Currencies, "position": r.Position,
			"sealed_with": secrets.KeyOf(r.Sealed), "created_at": r.CreatedAt.UTC().Format(time.RFC3339)})
	}
	return printJSON(e.stdout, out)
}

type railsRekeyCmd struct{}

func (railsRekeyCmd) Run(c *cli, e *env) error {
	keys, err := c.keyring(e)
	if err != nil {
		return err
	}
	if keys.Empty() {
		return secrets.ErrNoKey
	}
	st, err := openStore(e.ctx, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	n := 0
	err = st.Transact(e.ctx, func(tx store.Tx) error {
		n = 0
		list, err := tx.ListRails()
		if err != nil {
			return err
		}
		for _, r := range list {
			changed, err := live.Reseal(&r, keys)
			if err != nil {
				return err
			}
			if changed {
				n++
				if err := tx.UpdateRail(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"resealed": n, "key": keys.Current()})
}
