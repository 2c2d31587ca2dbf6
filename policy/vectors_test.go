package policy

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParse_KnowledgeExampleIsAVectorsCollection(t *testing.T) {
	p, err := LoadFile(filepath.Join("testdata", "good", "knowledge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Collection("knowledge_chunks")
	if c == nil || !c.IsVectors() || c.Dimension != 384 {
		t.Fatalf("knowledge_chunks = %+v", c)
	}
	emb := c.Field(EmbeddingField)
	if emb == nil || emb.Type != TypeVector || emb.IsPII() {
		t.Fatalf("embedding field = %+v: want a plain vector", emb)
	}
	for _, name := range []string{"text", "source", "metadata"} {
		if !c.Field(name).IsPII() {
			t.Errorf("payload field %s is not sealed", name)
		}
	}
}

func TestParse_RejectsBadVectorsCollections(t *testing.T) {
	const head = "version: 1\nname: kb\ncollections:\n  - name: chunks\n"
	rules := "    rules:\n      - {action: delete, period: 30d}\n"
	tests := []struct{ name, body, want string }{
		{"no dimension", "    kind: vectors\n    fields:\n      - {name: embedding, type: vector}\n" + rules,
			"kind vectors needs a dimension from 1 to 4096, got 0"},
		{"dimension too large", "    kind: vectors\n    dimension: 5000\n    fields:\n      - {name: embedding, type: vector}\n" + rules,
			"got 5000"},
		{"no embedding field", "    kind: vectors\n    dimension: 3\n    fields:\n      - {name: text, type: text, pii: true}\n" + rules,
			"kind vectors needs a field {name: embedding, type: vector}"},
		{"embedding of another type", "    kind: vectors\n    dimension: 3\n    fields:\n      - {name: embedding, type: json}\n" + rules,
			"field embedding of a vectors collection must be of type vector"},
		{"vector under another name", "    kind: vectors\n    dimension: 3\n    fields:\n      - {name: embedding, type: vector}\n      - {name: v2, type: vector}\n" + rules,
			"the vector field must be named embedding, not v2"},
		{"sealed embedding", "    kind: vectors\n    dimension: 3\n    fields:\n      - {name: embedding, type: vector, pii: true}\n" + rules,
			"field embedding is the plain search index"},
		{"anonymize rule", "    kind: vectors\n    dimension: 3\n    fields:\n      - {name: embedding, type: vector}\n      - {name: text, type: text, pii: true}\n    rules:\n      - {action: anonymize, period: 30d}\n",
			"a vectors collection deletes its chunks, it cannot anonymize them"},
		{"vector in a records collection", "    fields:\n      - {name: embedding, type: vector}\n" + rules,
			"type vector needs kind: vectors on the collection"},
		{"dimension in a records collection", "    dimension: 3\n    fields:\n      - {name: text, type: text}\n" + rules,
			"dimension is only used by kind: vectors"},
		{"unknown kind", "    kind: graph\n    fields:\n      - {name: text, type: text}\n" + rules,
			`unknown kind "graph"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("kb.yaml", []byte(head+tt.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "kb.yaml:") {
				t.Fatalf("error:\n%v\nwant it to contain %q with a file:line prefix", err, tt.want)
			}
		})
	}
}
