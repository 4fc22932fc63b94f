package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Blobs reads and writes block blobs of one account.
type Blobs struct {
	svc *service.Client
}

// BlobInfo describes one listed blob. ETags are in their HTTP form, with quotes,
// in List, Get and GetIfChanged alike.
type BlobInfo struct {
	Name         string
	ETag         string
	Size         int64
	LastModified time.Time
}

// EnsureContainers creates the containers that do not exist yet.
func (b *Blobs) EnsureContainers(ctx context.Context, names ...string) error {
	for _, n := range names {
		_, err := b.svc.NewContainerClient(n).Create(ctx, nil)
		if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return fmt.Errorf("create container %s: %w", n, notFound(err))
		}
	}
	return nil
}

// Put writes data to container/name, replacing any existing blob. Writing the same
// bytes again is harmless, so a redelivered invocation may call it again.
func (b *Blobs) Put(ctx context.Context, container, name string, data []byte, contentType string) error {
	return b.PutWithMetadata(ctx, container, name, data, contentType, nil)
}

// PutWithMetadata is Put that also sets the blob's metadata (names are C#
// identifiers, such as model_etag; values ASCII), replacing any it had.
func (b *Blobs) PutWithMetadata(ctx context.Context, container, name string, data []byte, contentType string, metadata map[string]string) error {
	c := b.svc.NewContainerClient(container).NewBlockBlobClient(name)
	o := &blockblob.UploadBufferOptions{}
	if contentType != "" {
		o.HTTPHeaders = &blob.HTTPHeaders{BlobContentType: &contentType}
	}
	if len(metadata) > 0 {
		o.Metadata = make(map[string]*string, len(metadata))
		for k, v := range metadata {
			o.Metadata[k] = &v
		}
	}
	if _, err := c.UploadBuffer(ctx, data, o); err != nil {
		return fmt.Errorf("put blob %s/%s: %w", container, name, notFound(err))
	}
	return nil
}

// Metadata returns the metadata of container/name, names in lower case (the
// service answers them as HTTP headers, whose case is not kept). A missing
// blob gives an error wrapping ErrNotFound.
func (b *Blobs) Metadata(ctx context.Context, container, name string) (map[string]string, error) {
	p, err := b.svc.NewContainerClient(container).NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("get blob properties %s/%s: %w", container, name, notFound(err))
	}
	md := make(map[string]string, len(p.Metadata))
	for k, v := range p.Metadata {
		if v != nil {
			md[strings.ToLower(k)] = *v
		}
	}
	return md, nil
}

// Get reads container/name and returns its bytes and ETag. A missing blob or
// container gives an error wrapping ErrNotFound.
func (b *Blobs) Get(ctx context.Context, container, name string) ([]byte, string, error) {
	data, etag, _, err := b.get(ctx, container, name, "", 0)
	return data, etag, err
}

// GetIfChanged reads container/name unless its ETag still equals etag (a
// conditional GET with If-None-Match: the service answers 304 without a body).
// When unchanged it returns (nil, etag, false, nil).
//
// A blob larger than maxBytes (> 0) gives an error wrapping ErrTooLarge: the
// response's Content-Length is checked before the body is read, and the body
// is read through the limit in case the length is missing or wrong.
func (b *Blobs) GetIfChanged(ctx context.Context, container, name, etag string, maxBytes int64) ([]byte, string, bool, error) {
	return b.get(ctx, container, name, etag, maxBytes)
}

func (b *Blobs) get(ctx context.Context, container, name, etag string, maxBytes int64) ([]byte, string, bool, error) {
	c := b.svc.NewContainerClient(container).NewBlobClient(name)
	var o *blob.DownloadStreamOptions
	if etag != "" {
		e := azcore.ETag(quoteETag(etag))
		o = &blob.DownloadStreamOptions{AccessConditions: &blob.AccessConditions{
			ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &e}}}
	}
	resp, err := c.DownloadStream(ctx, o)
	if err != nil {
		var re *azcore.ResponseError
		if etag != "" && errors.As(err, &re) && re.StatusCode == http.StatusNotModified {
			return nil, etag, false, nil
		}
		return nil, "", false, fmt.Errorf("get blob %s/%s: %w", container, name, notFound(err))
	}
	if resp.Body == nil {
		// azblob turns 304 Not Modified into a response without a body.
		if etag != "" {
			return nil, etag, false, nil
		}
		return nil, "", false, fmt.Errorf("get blob %s/%s: response without a body", container, name)
	}
	body := resp.NewRetryReader(ctx, nil)
	defer body.Close()
	var r io.Reader = body
	if maxBytes > 0 {
		if resp.ContentLength != nil && *resp.ContentLength > maxBytes {
			return nil, "", false, fmt.Errorf("blob %s/%s is %d bytes, over the limit of %d: %w", container, name, *resp.ContentLength, maxBytes, ErrTooLarge)
		}
		r = io.LimitReader(body, maxBytes+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", false, fmt.Errorf("read blob %s/%s: %w", container, name, err)
	}
	if maxBytes > 0 && int64(len(data)) > maxBytes {
		return nil, "", false, fmt.Errorf("blob %s/%s is more than %d bytes, over the limit: %w", container, name, maxBytes, ErrTooLarge)
	}
	var got string
	if resp.ETag != nil {
		got = quoteETag(string(*resp.ETag))
	}
	return data, got, true, nil
}

// List returns the blobs of containerName whose names start with prefix, in name order.
func (b *Blobs) List(ctx context.Context, containerName, prefix string) ([]BlobInfo, error) {
	o := &container.ListBlobsFlatOptions{}
	if prefix != "" {
		o.Prefix = &prefix
	}
	pager := b.svc.NewContainerClient(containerName).NewListBlobsFlatPager(o)
	var out []BlobInfo
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list blobs %s/%s*: %w", containerName, prefix, notFound(err))
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil {
				continue
			}
			bi := BlobInfo{Name: *it.Name}
			if p := it.Properties; p != nil {
				if p.ETag != nil {
					bi.ETag = quoteETag(string(*p.ETag))
				}
				if p.ContentLength != nil {
					bi.Size = *p.ContentLength
				}
				if p.LastModified != nil {
					bi.LastModified = p.LastModified.UTC()
				}
			}
			out = append(out, bi)
		}
	}
	return out, nil
}

// quoteETag returns an ETag in its HTTP header form, "0x8D...": the service
// quotes it in response headers but not in listings, and the two must compare equal.
func quoteETag(e string) string {
	if e == "" || strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return `"` + e + `"`
}

// Delete removes container/name. A missing blob gives an error wrapping ErrNotFound.
func (b *Blobs) Delete(ctx context.Context, container, name string) error {
	if _, err := b.svc.NewContainerClient(container).NewBlobClient(name).Delete(ctx, nil); err != nil {
		return fmt.Errorf("delete blob %s/%s: %w", container, name, notFound(err))
	}
	return nil
}
