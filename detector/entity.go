package detector

import (
	"strconv"
	"strings"
)

// Entity is one Sentinel entity of an alert, built from the rule's
// entityMappings. It marshals as Sentinel's entity JSON: "$id", then the
// identifiers in mapping order, then Type, e.g.
// {"$id":"1","Name":"alice","UPNSuffix":"contoso.com","Type":"account"}.
type Entity struct {
	ID          string // "$id", numbered from "1" within one alert
	Type        string // Sentinel's JSON type: "account", "ip", ...
	Identifiers []EntityIdentifier
}

// EntityIdentifier is one identifier of an entity and its value, such as
// Address = "203.0.113.10".
type EntityIdentifier struct {
	Name  string
	Value string
}

// MarshalJSON writes the entity in Sentinel's key order.
func (e Entity) MarshalJSON() ([]byte, error) {
	o := make(jsonObject, 0, len(e.Identifiers)+2)
	o = append(o, jsonMember{"$id", e.ID})
	for _, id := range e.Identifiers {
		o = append(o, jsonMember{id.Name, id.Value})
	}
	o = append(o, jsonMember{"Type", e.Type})
	return o.MarshalJSON()
}

// key identifies the entity by type and identifiers, ignoring "$id", so an
// alert lists each entity once.
func (e Entity) key() string {
	var b strings.Builder
	b.WriteString(strconv.Quote(e.Type))
	for _, id := range e.Identifiers {
		b.WriteString(strconv.Quote(id.Name))
		b.WriteString(strconv.Quote(id.Value))
	}
	return b.String()
}

// entityTypeName returns the Type Sentinel writes in entity JSON for the
// entityType of a rule's entityMappings. Unlisted types are lower-cased.
func entityTypeName(entityType string) string {
	switch entityType {
	case "AzureResource":
		return "azure-resource"
	case "CloudApplication":
		return "cloud-application"
	case "MailMessage":
		return "mailMessage"
	case "SecurityGroup":
		return "security-group"
	case "RegistryKey":
		return "registry-key"
	case "RegistryValue":
		return "registry-value"
	}
	return strings.ToLower(entityType)
}

// rowEntities returns the entities the rule's mappings find in row, in
// mapping order and without "$id". Identifiers with an empty value are left
// out, and a mapping with no value left yields no entity. An Account's
// FullName is split at the last '@' into Name and UPNSuffix, as Sentinel
// does; without an '@' (or with nothing on one side of it) the whole value is
// the Name.
func (r *Rule) rowEntities(row *Row) []Entity {
	var entities []Entity
	for _, m := range r.EntityMappings {
		e := Entity{Type: entityTypeName(m.EntityType)}
		for _, f := range m.FieldMappings {
			v := scalarColumn(row, f.ColumnName)
			if v == "" {
				continue
			}
			if e.Type == "account" && f.Identifier == "FullName" {
				name, suffix := splitUPN(v)
				e.Identifiers = append(e.Identifiers, EntityIdentifier{"Name", name})
				if suffix != "" {
					e.Identifiers = append(e.Identifiers, EntityIdentifier{"UPNSuffix", suffix})
				}
				continue
			}
			e.Identifiers = append(e.Identifiers, EntityIdentifier{f.Identifier, v})
		}
		if len(e.Identifiers) > 0 {
			entities = append(entities, e)
		}
	}
	return entities
}

// numberEntities drops repeated entities, keeping the first, and numbers
// the rest "$id" "1", "2", ... in order.
func numberEntities(entities []Entity) []Entity {
	seen := make(map[string]bool, len(entities))
	out := entities[:0:0]
	for _, e := range entities {
		k := e.key()
		if seen[k] {
			continue
		}
		seen[k] = true
		e.ID = strconv.Itoa(len(out) + 1)
		out = append(out, e)
	}
	return out
}

// splitUPN splits a user principal name at its last '@'. When either side
// would be empty, the whole value is the name and the suffix is "".
func splitUPN(upn string) (name, suffix string) {
	i := strings.LastIndexByte(upn, '@')
	if i <= 0 || i == len(upn)-1 {
		return upn, ""
	}
	return upn[:i], upn[i+1:]
}

// scalarColumn returns a string or number column of row as text. Array
// columns are not entity-mappable (the loader rejects them) and give "".
func scalarColumn(row *Row, column string) string {
	v, _ := row.lookup(column)
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	return ""
}
