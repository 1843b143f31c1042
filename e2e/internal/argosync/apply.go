package argosync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Applier sends objects to one API server with server-side apply, as Argo CD
// does with ServerSideApply=true: one field manager, conflicts forced, and
// strict field validation (kubectl's default), so an unknown field is a
// rejection rather than a warning.
type Applier struct {
	FieldManager string

	client   dynamic.Interface
	mapper   meta.ResettableRESTMapper
	warnings *warningRecorder
	// crdApplied: a CRD went in since the last discovery refresh, so a kind
	// the mapper does not know yet may simply not be discovered yet.
	crdApplied bool
}

// NewApplier connects to the server cfg points at.
func NewApplier(cfg *rest.Config, fieldManager string) (*Applier, error) {
	cfg = rest.CopyConfig(cfg)
	rec := &warningRecorder{}
	cfg.WarningHandlerWithContext = rec
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Applier{
		FieldManager: fieldManager,
		client:       client,
		mapper:       restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		warnings:     rec,
	}, nil
}

// Client is the dynamic client the applier uses (for the tests' own reads).
func (a *Applier) Client() dynamic.Interface { return a.client }

// Mapping resolves a kind to its resource and scope.
func (a *Applier) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	return a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// Refresh forgets cached discovery, e.g. after CRDs were installed.
func (a *Applier) Refresh() {
	a.mapper.Reset()
	a.crdApplied = false
}

// Applied is one object the server accepted.
type Applied struct {
	ID     string // kind.group namespace/name, after namespace defaulting
	Folder string
	// Body is exactly what was sent, so two syncs can be compared object by object.
	Body []byte
	// Live is the object the server stored, without resourceVersion and
	// managedFields timestamps: equal Live means nothing changed in it,
	// even when the server rewrote it (see ContentChanged).
	Live            []byte
	Generation      int64
	ResourceVersion string
	Warnings        []string
	GVR             schema.GroupVersionResource
	Namespace, Name string
}

// Rejection is one object the server (or the harness, before sending it)
// refused, with the server's message.
type Rejection struct {
	ID      string
	Folder  string
	Message string
}

func (r Rejection) String() string {
	return fmt.Sprintf("%s (from %s): %s", r.ID, r.Folder, r.Message)
}

// Report is the outcome of a sync: what went in, in order, and what did not.
type Report struct {
	Applied    []Applied
	Rejections []Rejection
	// Folders synced, in order.
	Folders []string
	// Charts are the Applications applied but not synced because their
	// source is an upstream Helm chart, name -> repoURL/chart@version.
	Charts map[string]string
}

// ByID indexes the accepted objects.
func (r *Report) ByID() map[string]Applied {
	m := make(map[string]Applied, len(r.Applied))
	for _, a := range r.Applied {
		m[a.ID] = a
	}
	return m
}

// RejectionList renders every rejection, one a line, for a test failure.
func (r *Report) RejectionList() string {
	lines := make([]string, len(r.Rejections))
	for i, rej := range r.Rejections {
		lines[i] = "  - " + rej.String()
	}
	return strings.Join(lines, "\n")
}

// SyncEnv applies one rendered environment as Argo CD would after someone
// applied its bootstrap folder (envDir/bootstrap, the app-of-apps): each wave
// of that folder's objects, then the folders of the Applications in that wave
// (recursively, so nested app-of-apps work), then the next wave. Application
// source paths are relative to repoRoot. Rejections are collected in the
// report; the error is for what is not the server's to judge: folders that
// do not build, Applications the harness cannot follow, and folders of envDir
// that no Application syncs (Argo CD would never apply them).
func (a *Applier) SyncEnv(ctx context.Context, repoRoot, envDir, bootstrap string) (*Report, error) {
	rep := &Report{}
	s := &syncer{applier: a, repoRoot: repoRoot, report: rep, seen: map[string]bool{}}
	root := filepath.Join(envDir, bootstrap)
	objs, err := Build(root)
	if err != nil {
		return rep, err
	}
	// After the person's first apply, the app-of-apps (the Application whose
	// source is the bootstrap folder) owns that folder's objects.
	owner := ""
	for _, obj := range objs {
		if !isApplication(obj) {
			continue
		}
		if app, err := readApplication(obj); err == nil && slices.ContainsFunc(app.dirs, func(d string) bool {
			return filepath.Join(repoRoot, filepath.FromSlash(d)) == root
		}) {
			owner = app.name
		}
	}
	s.syncFolder(ctx, Folder{Dir: root, App: owner, Objects: objs})

	var unsynced []string
	entries, err := os.ReadDir(envDir)
	if err != nil {
		return rep, err
	}
	for _, e := range entries {
		dir := filepath.Join(envDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); e.IsDir() && err == nil && !s.seen[dir] {
			unsynced = append(unsynced, dir)
		}
	}
	if len(unsynced) > 0 {
		s.errs = append(s.errs, fmt.Errorf("no accepted Application syncs these folders, so Argo CD would never apply them: %s", strings.Join(unsynced, ", ")))
	}
	return rep, errors.Join(s.errs...)
}

type syncer struct {
	applier  *Applier
	repoRoot string
	report   *Report
	seen     map[string]bool
	errs     []error
}

// syncFolder applies f's objects in order; after the last object of each
// wave it syncs the folders of the Applications that wave created, as Argo CD
// waits for a wave's Applications to be healthy before the next wave.
func (s *syncer) syncFolder(ctx context.Context, f Folder) {
	s.seen[f.Dir] = true
	s.report.Folders = append(s.report.Folders, f.Dir)
	if f.CreateNamespace && f.Namespace != "" {
		if err := s.applier.EnsureNamespace(ctx, f.Namespace); err != nil {
			s.report.Rejections = append(s.report.Rejections, Rejection{
				ID: "Namespace " + f.Namespace, Folder: f.Dir, Message: "CreateNamespace=true: " + err.Error(),
			})
		}
	}
	var pending []application
	pendingWave := 0
	flush := func() {
		for _, app := range pending {
			s.syncApplication(ctx, app)
		}
		pending = nil
	}
	for _, obj := range f.Objects {
		wave, _ := Wave(obj) // Build already rejected bad waves
		if len(pending) > 0 && wave != pendingWave {
			flush()
		}
		if !s.applier.apply(ctx, f, obj, s.report) {
			continue
		}
		if isApplication(obj) {
			app, err := readApplication(obj)
			if err != nil {
				s.errs = append(s.errs, err)
				continue
			}
			pending = append(pending, app)
			pendingWave = wave
		}
	}
	flush()
}

func (s *syncer) syncApplication(ctx context.Context, app application) {
	if app.chart != "" {
		if s.report.Charts == nil {
			s.report.Charts = map[string]string{}
		}
		s.report.Charts[app.name] = app.chart
		return
	}
	for _, rel := range app.dirs {
		dir := filepath.Join(s.repoRoot, filepath.FromSlash(rel))
		if s.seen[dir] {
			continue // the app-of-apps syncing its own folder
		}
		objs, err := Build(dir)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("Application %s: %w", app.name, err))
			s.seen[dir] = true
			continue
		}
		s.syncFolder(ctx, Folder{Dir: dir, App: app.name, Namespace: app.namespace, CreateNamespace: app.createNamespace, Objects: objs})
	}
}

// EnsureNamespace creates namespace name unless it exists, as Argo CD's
// CreateNamespace=true does (it never rewrites an existing namespace: that
// would strip the labels the render gives it). Also used for Argo CD's own
// namespace, which its install creates and the rendered envs do not.
func (a *Applier) EnsureNamespace(ctx context.Context, name string) error {
	namespaces := a.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	if _, err := namespaces.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return err
	}
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
	}}
	_, err := namespaces.Create(ctx, ns, metav1.CreateOptions{FieldManager: a.FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func isApplication(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "Application" && obj.GroupVersionKind().Group == "argoproj.io"
}

// ApplyFolder applies one folder's objects in order, without following
// Applications.
func (a *Applier) ApplyFolder(ctx context.Context, f Folder) *Report {
	rep := &Report{Folders: []string{f.Dir}}
	for _, obj := range f.Objects {
		a.apply(ctx, f, obj, rep)
	}
	return rep
}

// apply sends one object and records the outcome; it reports acceptance.
func (a *Applier) apply(ctx context.Context, f Folder, obj *unstructured.Unstructured, rep *Report) bool {
	obj = obj.DeepCopy()
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapping(ctx, gvk)
	if err != nil {
		rep.Rejections = append(rep.Rejections, Rejection{ID: Describe(obj), Folder: f.Dir, Message: err.Error()})
		return false
	}
	// Argo CD puts namespaced objects that name no namespace into the
	// Application's destination namespace.
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace && obj.GetNamespace() == "" {
		ns := f.Namespace
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		obj.SetNamespace(ns)
	}
	if f.App != "" {
		// Argo CD (v3 default: annotation tracking) marks each object with
		// the Application that owns it; it is part of what the server sees.
		annotations := obj.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[annotationTrackingID] = fmt.Sprintf("%s:%s/%s:%s/%s", f.App, gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName())
		obj.SetAnnotations(annotations)
	}
	id := Describe(obj)
	body, err := json.Marshal(obj.Object)
	if err != nil {
		rep.Rejections = append(rep.Rejections, Rejection{ID: id, Folder: f.Dir, Message: err.Error()})
		return false
	}
	force := true
	a.warnings.take()
	res, err := a.client.Resource(mapping.Resource).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: a.FieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict})
	warnings := a.warnings.take()
	if err != nil {
		rep.Rejections = append(rep.Rejections, Rejection{ID: id, Folder: f.Dir, Message: err.Error()})
		return false
	}
	if gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition" {
		a.crdApplied = true
	}
	rep.Applied = append(rep.Applied, Applied{
		ID: id, Folder: f.Dir, Body: body, Live: liveContent(res),
		Generation: res.GetGeneration(), ResourceVersion: res.GetResourceVersion(),
		Warnings: warnings, GVR: mapping.Resource, Namespace: obj.GetNamespace(), Name: obj.GetName(),
	})
	return true
}

// liveContent is obj as JSON without what moves on every write.
func liveContent(obj *unstructured.Unstructured) []byte {
	obj = obj.DeepCopy()
	unstructured.RemoveNestedField(obj.Object, "metadata", "resourceVersion")
	managed := obj.GetManagedFields()
	for i := range managed {
		managed[i].Time = nil
	}
	obj.SetManagedFields(managed)
	data, _ := json.Marshal(obj.Object)
	return data
}

// mapping resolves gvk; when a CRD was applied since discovery was last read,
// an unknown kind may just be undiscovered yet, so it refreshes and waits.
func (a *Applier) mapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := a.Mapping(gvk)
	if err == nil || !meta.IsNoMatchError(err) || !a.crdApplied {
		return m, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		a.mapper.Reset()
		if m, err = a.Mapping(gvk); err == nil || !meta.IsNoMatchError(err) {
			return m, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return m, err
}

// warningRecorder keeps the server's warnings (deprecations, ignored fields)
// so each can be pinned on the object whose request drew it.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.msgs, text) {
		w.msgs = append(w.msgs, text)
	}
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := w.msgs
	w.msgs = nil
	sort.Strings(msgs)
	return msgs
}
