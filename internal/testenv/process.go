package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyTimeout bounds how long a server may take to accept connections. It
// is generous because the test machines are small and shared.
const readyTimeout = 60 * time.Second

// Process is one throwaway server process. Stop kills it (as a crash would);
// Start runs the same command again, on the same address.
type Process struct {
	Name      string   // binary as given to StartProcess
	Path      string   // resolved binary path
	Args      []string // arguments, without the binary
	Env       []string // full environment of the process
	ReadyAddr string   // TCP address ("unix:PATH" for a socket) that answers once the server is up; "" for none
	Dir       string   // the process's temp dir; its log lives here
	WorkDir   string   // working directory of the process; "" is the test's
	LogPath   string   // stdout and stderr of every run, appended

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current run has ended
}

// StartProcess runs name with args, in a new process group that gets
// SIGKILL when the test binary dies, and waits until readyAddr accepts TCP
// connections (when readyAddr is not empty). It runs in the test's working
// directory, so relative paths in args work as in the test. env entries are added to the
// current environment and override it. The process is stopped at
// t.Cleanup. A missing binary or a server that does not come up fails t.
func StartProcess(t T, name string, args []string, env []string, readyAddr string) *Process {
	t.Helper()
	path := requireBinary(t, name)
	p := newProcess(name, path, args, env, readyAddr, t.TempDir())
	t.Cleanup(p.Stop)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Launch is StartProcess outside a test (a benchmark, a development
// environment): the process's log goes to dir, and the caller stops it.
func Launch(name string, args, env []string, readyAddr, dir string) (*Process, error) {
	path, err := lookBinary(name)
	if err != nil {
		return nil, err
	}
	p := newProcess(name, path, args, env, readyAddr, dir)
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

func newProcess(name, path string, args, env []string, readyAddr, dir string) *Process {
	return &Process{
		Name: name, Path: path, Args: args,
		Env:       append(os.Environ(), env...),
		ReadyAddr: readyAddr,
		Dir:       dir,
		LogPath:   filepath.Join(dir, filepath.Base(name)+".log"),
	}
}

// Start runs the process again after Stop, with the same command line (so on
// the same port). It is a no-op if the process is running.
func (p *Process) Start(t T) {
	t.Helper()
	t.Cleanup(p.Stop)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

// Pid is the process id of the current run (0 if it never started): what
// a benchmark reads the process's CPU time by.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the current run has not ended.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *Process) start() error {
	if p.Running() {
		return nil
	}
	// A port in TIME_WAIT or a socket the previous run has not released yet
	// can make an immediate restart fail to bind: retry a few times.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = p.startOnce(); err == nil {
			return nil
		}
		if !errors.Is(err, errExitedEarly) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

var errExitedEarly = errors.New("exited before it was ready")

func (p *Process) startOnce() error {
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testenv: %s log: %w", p.Name, err)
	}
	fmt.Fprintf(logf, "=== testenv: %s %s\n", p.Path, strings.Join(p.Args, " "))
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = p.Env
	cmd.Dir = p.WorkDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("testenv: start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	track(p)
	if p.ReadyAddr == "" {
		return nil
	}
	if err := waitTCP(p.ReadyAddr, exited); err != nil {
		p.Stop()
		return fmt.Errorf("testenv: %s on %s: %w\n%s", p.Name, p.ReadyAddr, err, p.LogTail())
	}
	return nil
}

func waitTCP(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		network, a := "tcp", addr
		if path, ok := strings.CutPrefix(addr, "unix:"); ok {
			network, a = "unix", path
		}
		c, err := net.DialTimeout(network, a, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errExitedEarly
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", readyTimeout, err)
		}
	}
}

// Stop kills the whole process group at once, as a crash would, and waits
// for the process to be gone. It is safe to call more than once.
func (p *Process) Stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	// Setpgid made the pid the group id: -pid reaches children too (PHP
	// workers, for instance).
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	untrack(p)
}

// Signal sends sig to the process (not its group), e.g. SIGHUP to make a
// server reload or reopen its logs.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return os.ErrProcessDone
	}
	return syscall.Kill(cmd.Process.Pid, sig)
}

// LogTail returns the last lines of the process's output, for failure
// messages.
func (p *Process) LogTail() string {
	const max = 4096
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return fmt.Sprintf("--- last output of %s (%s):\n%s", p.Name, p.LogPath, b)
}
