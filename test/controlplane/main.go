// Command kube-controlplane runs a real kube-apiserver (k8s.io/kubernetes
// v1.34.4) on top of an embedded etcd in one process, for zen-watcher's tests.
//
// It writes a throwaway PKI and token file into a work directory, starts etcd
// on free 127.0.0.1 ports, starts the apiserver on a free 127.0.0.1 port, waits
// until /readyz and the "default" namespace answer, optionally applies CRDs,
// writes a kubeconfig and prints exactly one JSON line on stdout:
//
//	{"kubeconfig":"/abs/path","server":"https://127.0.0.1:PORT","token":"..."}
//
// Everything else (logs) goes to stderr. It stops gracefully on SIGTERM/SIGINT
// and when stdin reaches EOF (the parent process died).
//
// See README.md next to this file.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/grpclog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/component-base/cli"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func init() {
	// Same as k8s.io/kubernetes/test/integration/framework: gRPC (etcd server
	// and the apiserver's etcd client) is very chatty at info/warning level.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
}

const (
	etcdStartTimeout = 60 * time.Second
	crdTimeout       = 30 * time.Second
	// Upper bound for a graceful stop; after that the process cleans up and
	// exits anyway. Kept below the Node harness' 20 s SIGKILL deadline.
	forcedExitAfter = 15 * time.Second
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, "\n") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	kubeconfig     string
	workDir        string
	crdDir         string
	extraTokens    stringList
	apiserverArgs  stringList
	auditPolicy    string
	auditWebhook   string
	verbosity      int
	readyTimeout   time.Duration
	exitOnStdinEOF bool
}

func parseOptions() (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kube-controlplane", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "where to write the admin kubeconfig (required)")
	fs.StringVar(&o.workDir, "work-dir", "", "directory for PKI, tokens and etcd data (default: a temporary directory, removed at exit)")
	fs.StringVar(&o.crdDir, "crd-dir", "", "apply every *.yaml/*.yml CustomResourceDefinition in this directory once ready, and wait for Established")
	fs.Var(&o.extraTokens, "extra-token", "extra tokens.csv row, e.g. 'tok,user,uid,\"group1,group2\"' (repeatable)")
	fs.Var(&o.apiserverArgs, "apiserver-arg", "extra kube-apiserver flag, e.g. --feature-gates=X=true (repeatable; appended last)")
	fs.StringVar(&o.auditPolicy, "audit-policy-file", "", "kube-apiserver audit policy (audit.k8s.io/v1 Policy); needs --audit-webhook-config-file")
	fs.StringVar(&o.auditWebhook, "audit-webhook-config-file", "", "kubeconfig of the audit webhook backend (events are sent in batch mode with a 100ms max wait, see auditArgs)")
	fs.IntVar(&o.verbosity, "v", 0, "kube-apiserver log verbosity (--v); >=4 also turns etcd logs up to info")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 120*time.Second, "give up if the apiserver is not ready within this time")
	fs.BoolVar(&o.exitOnStdinEOF, "exit-on-stdin-eof", true, "stop when stdin reaches EOF (the parent process died)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.kubeconfig == "" {
		return nil, errors.New("--kubeconfig is required")
	}
	var err error
	if o.kubeconfig, err = filepath.Abs(o.kubeconfig); err != nil {
		return nil, err
	}
	if o.crdDir != "" {
		if st, err := os.Stat(o.crdDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--crd-dir %q is not a directory", o.crdDir)
		}
	}
	if (o.auditPolicy == "") != (o.auditWebhook == "") {
		return nil, errors.New("--audit-policy-file and --audit-webhook-config-file go together")
	}
	for _, f := range []*string{&o.auditPolicy, &o.auditWebhook} {
		if *f == "" {
			continue
		}
		if st, err := os.Stat(*f); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("audit file %q is not a readable file", *f)
		}
		if *f, err = filepath.Abs(*f); err != nil {
			return nil, err
		}
	}
	for _, t := range o.extraTokens {
		if strings.ContainsAny(t, "\r\n") || strings.Count(t, ",") < 2 {
			return nil, fmt.Errorf("--extra-token %q: want one CSV row token,user,uid[,\"groups\"]", t)
		}
	}
	return o, nil
}

// auditArgs: the audit webhook backend in batch mode, tuned for tests: a batch leaves after at most 100ms, without
// throttling, and a failed send is retried after 200ms (the defaults are 30s, 10 QPS and 10s). --apiserver-arg
// flags come later and override any of these.
func auditArgs(o *options) []string {
	if o.auditPolicy == "" {
		return nil
	}
	return []string{
		"--audit-policy-file=" + o.auditPolicy,
		"--audit-webhook-config-file=" + o.auditWebhook,
		"--audit-webhook-version=audit.k8s.io/v1",
		"--audit-webhook-mode=batch",
		"--audit-webhook-batch-max-wait=100ms",
		"--audit-webhook-batch-max-size=100",
		"--audit-webhook-batch-throttle-enable=false",
		"--audit-webhook-initial-backoff=200ms",
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kube-controlplane: "+format+"\n", args...)
}

func main() {
	os.Exit(run())
}

// stopper turns the first stop request (signal, stdin EOF, readiness failure)
// into one graceful apiserver shutdown, delivered at a safe point.
//
// The apiserver must not be asked to stop while it is still starting: its
// post-start hooks then fail with "context canceled" and klog.Fatal exits the
// process. So a request that arrives during startup is held until the
// apiserver is ready (or has failed, or has returned).
type stopper struct {
	once    sync.Once
	ch      chan struct{} // closed on the first stop request
	safe    chan struct{} // closed once RequestShutdown can no longer crash startup
	safeMu  sync.Once
	cleanup func() // run by the watchdog / a second signal
}

func (s *stopper) stop(reason string) {
	s.once.Do(func() {
		logf("stopping: %s", reason)
		close(s.ch)
		go func() {
			<-s.safe
			// Feeds the handler that app.NewAPIServerCommand installed with
			// SetupSignalContext (we took the OS signals away from it).
			genericapiserver.RequestShutdown()
		}()
		go func() {
			time.Sleep(forcedExitAfter)
			logf("graceful stop took longer than %s; forcing exit", forcedExitAfter)
			s.cleanup()
			os.Exit(1)
		}()
	})
}

func (s *stopper) markSafe() { s.safeMu.Do(func() { close(s.safe) }) }

func (s *stopper) stopped() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

func run() int {
	// Keep stdout for the single JSON line; everything else that anything in
	// this process writes to fd 1 goes to stderr.
	jsonOut, err := takeStdout()
	if err != nil {
		logf("%v", err)
		return 1
	}

	o, err := parseOptions()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		logf("%v", err)
		return 2
	}

	// NewAPIServerCommand calls genericapiserver.SetupSignalContext (never
	// call it a second time: it panics). Its handler would cancel the
	// apiserver on the first SIGTERM/SIGINT even mid-startup, and os.Exit(1)
	// on the second, skipping our cleanup. So take the OS signals away from
	// it right after construction and route them through the stopper, which
	// calls genericapiserver.RequestShutdown() at a safe point instead.
	cmd := app.NewAPIServerCommand()
	signal.Reset(syscall.SIGTERM, syscall.SIGINT)
	sigCh := make(chan os.Signal, 2)
	signal.Notify(sigCh, syscall.SIGTERM, syscall.SIGINT)
	cmd.SetOut(os.Stderr)
	cmd.SetErr(os.Stderr)

	var (
		workDir    = o.workDir
		removeWork = false
		etcd       *embed.Etcd
		etcdLevel  zap.AtomicLevel
		cleanMu    sync.Mutex
		cleaned    bool
	)
	cleanup := func() {
		cleanMu.Lock()
		defer cleanMu.Unlock()
		if cleaned {
			return
		}
		cleaned = true
		if etcd != nil {
			// On Close, etcd logs "setting up serving from embedded etcd
			// failed ... server closed" at error level for each listener.
			etcdLevel.SetLevel(zapcore.FatalLevel)
			done := make(chan struct{})
			go func() { etcd.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				logf("etcd did not close within 5s")
			}
		}
		if removeWork && workDir != "" {
			if err := os.RemoveAll(workDir); err != nil {
				logf("removing work dir: %v", err)
			}
		}
	}
	defer cleanup()
	// klog.Fatal (e.g. a failing post-start hook) exits through klog.OsExit:
	// clean up there too, so no etcd data or work dir is left behind.
	klog.OsExit = func(code int) {
		cleanup()
		os.Exit(code)
	}

	st := &stopper{ch: make(chan struct{}), safe: make(chan struct{}), cleanup: cleanup}
	go func() {
		s := <-sigCh
		st.stop("received " + s.String())
		s = <-sigCh
		logf("received %s again: exiting now", s)
		cleanup()
		os.Exit(1)
	}()
	if o.exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			st.stop("stdin closed")
		}()
	}

	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "zen-controlplane-"); err != nil {
			logf("%v", err)
			return 1
		}
		removeWork = true
	} else if err := os.MkdirAll(workDir, 0o700); err != nil {
		logf("%v", err)
		return 1
	}
	if workDir, err = filepath.Abs(workDir); err != nil {
		logf("%v", err)
		return 1
	}

	token, err := randomToken()
	if err != nil {
		logf("%v", err)
		return 1
	}
	p, err := writePKI(filepath.Join(workDir, "pki"))
	if err != nil {
		logf("writing PKI: %v", err)
		return 1
	}
	tokensFile := filepath.Join(workDir, "tokens.csv")
	rows := append([]string{token + `,admin,admin,"system:masters"`}, o.extraTokens...)
	if err := os.WriteFile(tokensFile, []byte(strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		logf("%v", err)
		return 1
	}

	ports, err := freePorts(3)
	if err != nil {
		logf("picking ports: %v", err)
		return 1
	}
	etcdClientPort, etcdPeerPort, apiPort := ports[0], ports[1], ports[2]

	t0 := time.Now()
	etcd, etcdLevel, err = startEtcd(filepath.Join(workDir, "etcd"), etcdClientPort, etcdPeerPort, o.verbosity, st.ch)
	if err != nil {
		logf("etcd: %v", err)
		if st.stopped() {
			return 0
		}
		return 1
	}
	logf("etcd ready on 127.0.0.1:%d after %s", etcdClientPort, time.Since(t0).Round(time.Millisecond))
	if st.stopped() {
		return 0
	}

	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	args := []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdClientPort),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--cert-dir=" + p.dir,
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingKey,
		"--client-ca-file=" + p.caCert,
		"--token-auth-file=" + tokensFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saKey,
		"--service-account-signing-key-file=" + p.saKey,
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=" + strconv.Itoa(o.verbosity),
	}
	args = append(args, auditArgs(o)...)
	args = append(args, o.apiserverArgs...)
	cmd.SetArgs(args)

	apiserverDone := make(chan struct{})
	readyFailed := make(chan struct{})
	go func() {
		err := waitReadyAndPublish(o, server, token, p.caPEM, jsonOut, st, apiserverDone, t0)
		if err != nil && !st.stopped() {
			logf("%v", err)
			close(readyFailed)
			st.stop("not ready")
		}
	}()

	code := cli.Run(cmd) // blocks until the apiserver has stopped
	close(apiserverDone)
	st.markSafe()
	logf("apiserver stopped (exit code %d)", code)
	select {
	case <-readyFailed:
		if code == 0 {
			code = 1
		}
	default:
		if !st.stopped() && code == 0 {
			// Returned on its own without being asked to: treat as failure.
			code = 1
		}
	}
	cleanup()
	return code
}

// takeStdout duplicates fd 1 for our own use and points fd 1 (and os.Stdout)
// at stderr, so no library can write onto the JSON channel.
func takeStdout() (*os.File, error) {
	fd, err := unix.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("dup stdout: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.Dup2(2, 1); err != nil {
		return nil, fmt.Errorf("redirect stdout: %w", err)
	}
	os.Stdout = os.Stderr
	return os.NewFile(uintptr(fd), "json-stdout"), nil
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ---------------------------------------------------------------- PKI

type pki struct {
	dir                     string
	caCert, caPEM           string
	servingCert, servingKey string
	saKey                   string
}

func writePKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "zen-watcher-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}

	p := &pki{
		dir:         dir,
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saKey:       filepath.Join(dir, "sa.key"),
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.caPEM = string(caPEM)
	files := []struct {
		path string
		data []byte
	}{
		{p.caCert, caPEM},
		{filepath.Join(dir, "ca.key"), ecKeyPEM(caKey)},
		{p.servingCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})},
		{p.servingKey, ecKeyPEM(srvKey)},
		{p.saKey, ecKeyPEM(saKey)},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return n
}

func ecKeyPEM(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// ---------------------------------------------------------------- etcd

func startEtcd(dir string, clientPort, peerPort, verbosity int, stop <-chan struct{}) (*embed.Etcd, zap.AtomicLevel, error) {
	level := zap.NewAtomicLevelAt(zapcore.ErrorLevel)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, level, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "zen-test"
	cfg.Dir = dir
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Test-only single member that is never restarted (as in k8s' own
	// etcd3/testserver): fsync buys nothing.
	cfg.UnsafeNoFsync = true
	cfg.WatchProgressNotifyInterval = 5 * time.Second
	cfg.LogLevel = "error"
	if verbosity >= 4 {
		level.SetLevel(zapcore.InfoLevel)
		cfg.LogLevel = "info"
	}
	zcfg := zap.NewProductionConfig()
	zcfg.Level = level
	zcfg.OutputPaths = []string{"stderr"}
	zcfg.ErrorOutputPaths = []string{"stderr"}
	zcfg.Sampling = nil
	lg, err := zcfg.Build()
	if err != nil {
		return nil, level, err
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg.Named("etcd"))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, level, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, level, nil
	case err := <-e.Err():
		e.Close()
		return nil, level, err
	case <-stop:
		level.SetLevel(zapcore.FatalLevel)
		e.Close()
		return nil, level, errors.New("stopped while starting")
	case <-time.After(etcdStartTimeout):
		e.Server.Stop()
		e.Close()
		return nil, level, fmt.Errorf("not ready after %s", etcdStartTimeout)
	}
}

// ---------------------------------------------------------------- readiness

func waitReadyAndPublish(o *options, server, token, caPEM string, out *os.File, st *stopper, apiserverDone <-chan struct{}, t0 time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.readyTimeout)
	defer cancel()
	go func() {
		select {
		case <-apiserverDone:
			cancel()
		case <-ctx.Done():
		}
	}()

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		st.markSafe()
		return errors.New("bad CA PEM")
	}
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	defer hc.CloseIdleConnections()
	for _, path := range []string{"/readyz", "/api/v1/namespaces/default"} {
		if err := pollOK(ctx, hc, server+path, token); err != nil {
			st.markSafe()
			return fmt.Errorf("waiting for %s: %w", path, err)
		}
	}
	// All post-start hooks have run (/readyz): a shutdown is safe from now.
	st.markSafe()
	logf("apiserver ready at %s after %s", server, time.Since(t0).Round(time.Millisecond))
	if st.stopped() {
		return nil
	}

	rc := &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte(caPEM)},
		QPS:             200,
		Burst:           400,
	}
	if o.crdDir != "" {
		n, err := applyCRDs(ctx, rc, o.crdDir)
		if err != nil {
			return fmt.Errorf("applying CRDs from %s: %w", o.crdDir, err)
		}
		logf("%d CRD(s) from %s established", n, o.crdDir)
	}
	if st.stopped() {
		return nil
	}

	if err := writeKubeconfig(o.kubeconfig, server, token, []byte(caPEM)); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	line, err := json.Marshal(struct {
		Kubeconfig string `json:"kubeconfig"`
		Server     string `json:"server"`
		Token      string `json:"token"`
	}{o.kubeconfig, server, token})
	if err != nil {
		return err
	}
	if _, err := out.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing JSON line to stdout: %w", err)
	}
	return nil
}

func pollOK(ctx context.Context, hc *http.Client, u, token string) error {
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %s)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeKubeconfig(path, server, token string, caPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["zen-test"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["zen-test-admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["zen-test"] = &clientcmdapi.Context{Cluster: "zen-test", AuthInfo: "zen-test-admin", Namespace: "default"}
	cfg.CurrentContext = "zen-test"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ---------------------------------------------------------------- CRDs

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func applyCRDs(ctx context.Context, rc *rest.Config, dir string) (int, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return 0, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	dc, err := dynamic.NewForConfig(rc)
	if err != nil {
		return 0, err
	}
	crds := dc.Resource(crdGVR)
	var names []string
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return 0, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for doc := 1; ; doc++ {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return 0, fmt.Errorf("%s (document %d): %w", file, doc, err)
			}
			if len(m) == 0 {
				continue // empty document, e.g. a leading "---"
			}
			obj := &unstructured.Unstructured{Object: m}
			if obj.GetAPIVersion() != "apiextensions.k8s.io/v1" || obj.GetKind() != "CustomResourceDefinition" {
				f.Close()
				return 0, fmt.Errorf("%s (document %d): want apiextensions.k8s.io/v1 CustomResourceDefinition, got %s %s",
					file, doc, obj.GetAPIVersion(), obj.GetKind())
			}
			_, err = crds.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
			if apierrors.IsAlreadyExists(err) { // only possible with a reused --work-dir
				var cur *unstructured.Unstructured
				if cur, err = crds.Get(ctx, obj.GetName(), metav1.GetOptions{}); err == nil {
					obj.SetResourceVersion(cur.GetResourceVersion())
					_, err = crds.Update(ctx, obj, metav1.UpdateOptions{FieldValidation: "Strict"})
				}
			}
			if err != nil {
				f.Close()
				return 0, fmt.Errorf("%s (document %d, %s): %w", file, doc, obj.GetName(), err)
			}
			names = append(names, obj.GetName())
		}
		f.Close()
	}

	wctx, cancel := context.WithTimeout(ctx, crdTimeout)
	defer cancel()
	for _, name := range names {
		for {
			cur, err := crds.Get(wctx, name, metav1.GetOptions{})
			if err != nil {
				return 0, fmt.Errorf("CRD %s: %w", name, err)
			}
			established, problem := crdConditions(cur)
			if problem != "" {
				return 0, fmt.Errorf("CRD %s: %s", name, problem)
			}
			if established {
				break
			}
			select {
			case <-wctx.Done():
				return 0, fmt.Errorf("CRD %s not Established: %w", name, wctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return len(names), nil
}

// crdConditions reports whether Established=True, or a reason it never will be.
func crdConditions(crd *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	established := false
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		switch {
		case typ == "Established" && status == "True":
			established = true
		case typ == "NamesAccepted" && status == "False":
			msg, _ := m["message"].(string)
			return false, "names not accepted: " + msg
		}
	}
	return established, ""
}
