package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds ropcwatch from this package into the test's temporary
// directory: the chaos tests run it as an operator would, one process per
// instance, so that SIGKILL kills a whole detector and nothing else.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ropcwatch")
	began := time.Now()
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built ropcwatch in %s", since(began))
	return bin
}

// requireFlag fails the test unless `ropcwatch CMD` accepts --FLAG, before
// minutes are spent on a run that would only find out at its first start.
func requireFlag(t *testing.T, bin, cmd, flag string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), bin, cmd, "--"+flag, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("ropcwatch %s does not accept --%s (%q): this binary predates that work, so this test cannot run", cmd, flag, strings.TrimSpace(lastLines(string(out), 1)))
	}
}

// processes runs ropcwatch subcommands as child processes of one test, each
// in its own process group, its stdout and stderr in a file of the test's
// temporary directory. When the test ends, what still runs is killed, and
// if the test failed the end of every log is printed.
type processes struct {
	t   *testing.T
	bin string
	dir string

	mu    sync.Mutex
	all   []*process
	count map[string]int // incarnations per name, for log file names
}

// process is one incarnation of a child process.
type process struct {
	name    string
	log     string
	cmd     *exec.Cmd
	started time.Time
	// oneShot marks a command expected to finish by itself with status 0.
	oneShot bool
	// signalled is set before the test sends a signal: the exit is expected.
	signalled atomic.Bool
	done      chan struct{} // closed once the process has exited
	exit      error         // cmd.Wait's result, once done is closed
	ended     time.Time     // once done is closed
}

func newProcesses(t *testing.T, bin string) *processes {
	ps := &processes{t: t, bin: bin, dir: t.TempDir(), count: map[string]int{}}
	t.Cleanup(ps.cleanup)
	return ps
}

// start starts a long-running command such as `ropcwatch run`.
func (ps *processes) start(name string, args ...string) *process {
	ps.t.Helper()
	return ps.launch(name, false, args)
}

// startOneShot starts a command that must finish by itself with status 0,
// such as `ropcwatch replay`.
func (ps *processes) startOneShot(name string, args ...string) *process {
	ps.t.Helper()
	return ps.launch(name, true, args)
}

func (ps *processes) launch(name string, oneShot bool, args []string) *process {
	ps.t.Helper()
	ps.mu.Lock()
	n := ps.count[name]
	ps.count[name]++
	ps.mu.Unlock()
	logPath := filepath.Join(ps.dir, fmt.Sprintf("%s.%d.log", name, n))
	f, err := os.Create(logPath)
	if err != nil {
		ps.t.Fatal(err)
	}
	// The test's context ends just before its cleanups run: then every
	// process still running is killed with its group.
	cmd := exec.CommandContext(ps.t.Context(), ps.bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		ps.t.Fatalf("start %s: %v", name, err)
	}
	p := &process{name: fmt.Sprintf("%s#%d", name, n), log: logPath, cmd: cmd, started: time.Now(), oneShot: oneShot, done: make(chan struct{})}
	go func() {
		p.exit = cmd.Wait()
		p.ended = time.Now()
		f.Close()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return p
}

// check returns an error naming the first process that exited on its own
// when it should not have: a service that stopped, or a one-shot command
// that failed.
func (ps *processes) check() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.all {
		select {
		case <-p.done:
		default:
			continue
		}
		if p.signalled.Load() || (p.oneShot && p.exit == nil) {
			continue
		}
		return fmt.Errorf("%s exited by itself after %s (%v); end of its log:\n%s", p.name, since(p.started), exitText(p.exit), tailFile(p.log, 30))
	}
	return nil
}

// sleep waits for d, failing the test as soon as a process exits when it
// should not have.
func (ps *processes) sleep(d time.Duration) {
	ps.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if err := ps.check(); err != nil {
			ps.t.Fatal(err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 200*time.Millisecond))
	}
}

func (ps *processes) cleanup() {
	ps.mu.Lock()
	all := ps.all
	ps.mu.Unlock()
	for _, p := range all {
		p.kill()
	}
	if !ps.t.Failed() {
		return
	}
	for _, p := range all {
		ps.t.Logf("end of the log of %s (%v):\n%s", p.name, exitText(p.exit), tailFile(p.log, 25))
	}
}

// exitedByItself reports whether p has exited without being signalled, and
// with what; from then on check no longer reports it.
func (p *process) exitedByItself() (bool, error) {
	select {
	case <-p.done:
	default:
		return false, nil
	}
	if p.signalled.Swap(true) || p.oneShot {
		return false, nil
	}
	return true, p.exit
}

// kill sends SIGKILL to p's process group and waits until p has exited.
func (p *process) kill() {
	p.signalled.Store(true)
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to timeout for p to exit; then it kills
// p. It returns nil when p exited with status 0.
func (p *process) stop(timeout time.Duration) error {
	p.signalled.Store(true)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM; killed", p.name, timeout)
	}
	if p.exit != nil {
		return fmt.Errorf("%s exited with %v after SIGTERM; end of its log:\n%s", p.name, p.exit, tailFile(p.log, 20))
	}
	return nil
}

// wait waits up to timeout for a one-shot command to finish with status 0.
func (p *process) wait(timeout time.Duration) error {
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s still ran after %s; killed; end of its log:\n%s", p.name, timeout, tailFile(p.log, 20))
	}
	if p.exit != nil {
		return fmt.Errorf("%s failed: %v; end of its log:\n%s", p.name, p.exit, tailFile(p.log, 20))
	}
	return nil
}

func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}

// tailFile returns the last n lines of the file at path.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// since is the time since t, rounded for logs.
func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }
