package warehouse

import (
	"fmt"

	"github.com/twin-llm/twin/schemas"
)

// ToContract is d as a CDC event carries it (schemas.Document); FromContract
// is the way back. They are the one place the store's type meets the
// contract's. The two types have the same fields, so each is a conversion,
// which stops compiling the day they differ: then the mapping is written
// here, field by field.
func ToContract(d *Document) schemas.Document { return schemas.Document(*d) }

// FromContract is the store's document of a contract document; see
// ToContract.
func FromContract(d *schemas.Document) Document { return Document(*d) }

// encodeDocument is the JSON text the SQLite store keeps of d: its contract
// form, document/v1, through the package schemas' encoder (which writes
// exactly json.Marshal's bytes, and fast). A stored document has every field
// the contract omits when empty (hash, revision, time of update), so these
// are the bytes json.Marshal writes of d itself, as rows always were.
func encodeDocument(d *Document) ([]byte, error) {
	c := ToContract(d)
	return schemas.Encode(&c)
}

// decodeDocument reads a row written by encodeDocument (or by json.Marshal,
// as older versions wrote them) through the one decoder of document/v1.
func decodeDocument(data []byte) (Document, error) {
	var c schemas.Document
	if err := schemas.Decode(data, &c); err != nil {
		// Not wrapped: a row the store cannot read is its own fault, not a
		// message to dead-letter as schemas.ErrInvalid would say.
		return Document{}, fmt.Errorf("document: %v", err)
	}
	return FromContract(&c), nil
}
