package svm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// JSONFormat and JSONVersion identify this project's JSON model format (see
// docs/models.md); LoadJSON refuses any other "format" or "version".
const (
	JSONFormat  = "batchscore-ocsvm"
	JSONVersion = 1
)

// maxJSONBytes bounds the size of a JSON model LoadJSON reads.
const maxJSONBytes = 1 << 30

// jsonModel is the JSON model document. Pointers tell a missing member from
// a zero one.
type jsonModel struct {
	Format         *string     `json:"format"`
	Version        *int        `json:"version"`
	Kernel         *string     `json:"kernel"`
	Gamma          *float64    `json:"gamma"`
	Coef0          *float64    `json:"coef0"`
	Degree         *int        `json:"degree"`
	Scaler         *jsonScaler `json:"scaler"`
	SupportVectors [][]float64 `json:"support_vectors"`
	DualCoef       []float64   `json:"dual_coef"`
	Intercept      *float64    `json:"intercept"`
}

type jsonScaler struct {
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
}

// LoadJSON reads a model in this project's JSON format:
//
//	{"format":"batchscore-ocsvm","version":1,"kernel":"rbf","gamma":0.01,
//	 "coef0":0,"degree":3,"scaler":{"mean":[..],"scale":[..]},
//	 "support_vectors":[[..],..],"dual_coef":[..],"intercept":-0.5}
//
// Every member is required except "scaler" (null or missing: no scaler;
// inside it, "mean" or "scale" may be null). Unknown members, trailing data,
// numbers out of float64 range and models New refuses are errors; they wrap
// ErrInvalidModel (an error of r itself is returned wrapped as it is).
func LoadJSON(r io.Reader) (*Model, error) {
	er := &errReader{r: r}
	p, err := parseJSON(er)
	if err != nil {
		if er.err == nil || !errors.Is(err, er.err) {
			err = invalidModelError{err}
		}
		return nil, fmt.Errorf("json model: %w", err)
	}
	m, err := New(p)
	if err != nil {
		return nil, fmt.Errorf("json model: %w", err)
	}
	return m, nil
}

func parseJSON(r io.Reader) (Params, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxJSONBytes))
	dec.DisallowUnknownFields()
	var doc jsonModel
	if err := dec.Decode(&doc); err != nil {
		return Params{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Params{}, errors.New("data after the model object")
	}
	switch {
	case doc.Format == nil:
		return Params{}, errors.New(`no "format" member`)
	case *doc.Format != JSONFormat:
		return Params{}, fmt.Errorf("format %s, want %q", quoteShort(*doc.Format), JSONFormat)
	case doc.Version == nil:
		return Params{}, errors.New(`no "version" member`)
	case *doc.Version != JSONVersion:
		return Params{}, fmt.Errorf("version %d is not supported (this program reads version %d)", *doc.Version, JSONVersion)
	}
	for _, m := range []struct {
		name string
		ok   bool
	}{
		{"kernel", doc.Kernel != nil},
		{"gamma", doc.Gamma != nil},
		{"coef0", doc.Coef0 != nil},
		{"degree", doc.Degree != nil},
		{"support_vectors", doc.SupportVectors != nil},
		{"dual_coef", doc.DualCoef != nil},
		{"intercept", doc.Intercept != nil},
	} {
		if !m.ok {
			return Params{}, fmt.Errorf("no %q member", m.name)
		}
	}
	k, err := ParseKernel(*doc.Kernel)
	if err != nil {
		return Params{}, err
	}
	p := Params{
		Kernel:         k,
		Gamma:          *doc.Gamma,
		Coef0:          *doc.Coef0,
		Degree:         *doc.Degree,
		SupportVectors: doc.SupportVectors,
		DualCoef:       doc.DualCoef,
		Intercept:      *doc.Intercept,
	}
	if doc.Scaler != nil {
		p.ScalerMean, p.ScalerScale = doc.Scaler.Mean, doc.Scaler.Scale
	}
	return p, nil
}

// WriteJSON writes m in this project's JSON format (see LoadJSON), with every
// number as the shortest text that reads back to the same float64
// (strconv 'g', -1), so LoadJSON of the output gives a model whose Params are
// bit for bit those of m.
func WriteJSON(w io.Writer, m *Model) error {
	p := m.Params()
	if err := validate(p); err != nil { // a Model is valid; this guards NaN/Inf all the same
		return fmt.Errorf("svm: write json: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(`{"format":"` + JSONFormat + `","version":` + strconv.Itoa(JSONVersion))
	b.WriteString(`,"kernel":"` + p.Kernel.String() + `"`)
	b.WriteString(`,"gamma":`)
	appendJSONFloat(&b, p.Gamma)
	b.WriteString(`,"coef0":`)
	appendJSONFloat(&b, p.Coef0)
	b.WriteString(`,"degree":` + strconv.Itoa(p.Degree))
	b.WriteString(`,"scaler":`)
	if p.ScalerMean == nil && p.ScalerScale == nil {
		b.WriteString("null")
	} else {
		b.WriteString(`{"mean":`)
		appendJSONFloats(&b, p.ScalerMean)
		b.WriteString(`,"scale":`)
		appendJSONFloats(&b, p.ScalerScale)
		b.WriteString("}")
	}
	b.WriteString(",\n\"support_vectors\":[")
	for i, sv := range p.SupportVectors {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		appendJSONFloats(&b, sv)
	}
	b.WriteString("],\n\"dual_coef\":")
	appendJSONFloats(&b, p.DualCoef)
	b.WriteString(",\n\"intercept\":")
	appendJSONFloat(&b, p.Intercept)
	b.WriteString("}\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("svm: write json: %w", err)
	}
	return nil
}

func appendJSONFloat(b *bytes.Buffer, v float64) {
	b.Write(strconv.AppendFloat(b.AvailableBuffer(), v, 'g', -1, 64))
}

func appendJSONFloats(b *bytes.Buffer, v []float64) {
	if v == nil {
		b.WriteString("null")
		return
	}
	b.WriteString("[")
	for i, x := range v {
		if i > 0 {
			b.WriteString(",")
		}
		appendJSONFloat(b, x)
	}
	b.WriteString("]")
}

// errReader remembers the first error other than io.EOF of the reader it
// wraps, so that LoadJSON tells a failing reader from a bad model.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}
