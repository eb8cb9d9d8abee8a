/*
 * test_audit_crash.c: a writer logging as fast as it can is killed with
 * SIGKILL at a random moment, several times over the same log (each new
 * writer continuing the chain). Afterwards verify may report at most a
 * torn last line, never a broken chain; and a torn line left by a crash
 * is healed by the next writer.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "check.h"

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* The child: open the log and write events until killed. */
static void writer(const char *path, uint64_t rotate)
{
    const char *grant[] = {"read:/data", "write:/out"};
    pa_binding b = {{0}, "crash-test", grant, 2};
    pa_options o = {0};
    pa_log *log;
    perch_err err;
    o.rotate_bytes = rotate;
    if (pa_log_open(path, &o, &b, &log, &err) != PERCH_OK) {
        fprintf(stderr, "writer: %s\n", err.message);
        _exit(3);
    }
    for (int64_t i = 0;; i++) {
        pa_field f[] = {PA_INT("bytes", i), PA_STR("note", "a fairly ordinary read of a file")};
        if (pa_log_event(log, i % 3 ? "fs.read" : "fs.open", "/data/input/records.csv", PA_NUL,
                         "ok", f, 2, &err) != PERCH_OK) {
            fprintf(stderr, "writer: %s\n", err.message);
            _exit(4);
        }
    }
}

/* Bytes in path and its rotated files path.1, path.2, ... */
static off_t size_of(const char *path)
{
    struct stat st;
    off_t total = stat(path, &st) == 0 ? st.st_size : 0;
    char name[160];
    for (int i = 1;; i++) {
        snprintf(name, sizeof name, "%s.%d", path, i);
        if (stat(name, &st) != 0)
            return total;
        total += st.st_size;
    }
}

static void crash_rounds(const char *path, uint64_t rotate, int rounds)
{
    uint64_t last_count = 0;
    for (int round = 0; round < rounds; round++) {
        pid_t pid = fork();
        int status = 0;
        off_t start = size_of(path);
        pa_report r;
        perch_err err;
        static char names[256][160];
        const char *paths[257];
        int n = 0;
        if (pid == 0)
            writer(path, rotate);
        CHECK(pid > 0);
        if (pid < 0)
            return;
        /* Let it get going, then kill it at an arbitrary moment. */
        for (int i = 0; i < 2000 && size_of(path) <= start + 4096; i++)
            sleep_us(1000);
        sleep_us(1000 + rand() % 20000);
        kill(pid, SIGKILL);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        for (; n < 256; n++) {
            struct stat st;
            snprintf(names[n], sizeof names[n], "%s.%d", path, n + 1);
            if (stat(names[n], &st) != 0)
                break;
            paths[n] = names[n];
        }
        /* A kill between a rotation's rename and its new file leaves no path. */
        if (access(path, F_OK) == 0)
            paths[n++] = path;
        CHECK_INT(pa_verify(paths, (size_t)n, NULL, &r, &err), PERCH_OK);
        if (r.status != PA_VERIFIED)
            fprintf(stderr, "round %d: %s line %llu: %s: %s\n", round, paths[r.file],
                    (unsigned long long)r.line, pa_reason_name(r.reason), r.message);
        CHECK(r.status == PA_VERIFIED || (r.status == PA_TRUNCATED && r.reason == PA_R_TORN));
        CHECK(!r.closed);
        CHECK(r.count > last_count + 10);
        last_count = r.count;
    }
}

/* A crash mid-write, simulated: the file ends inside a record. */
static void torn_then_continue(const char *path)
{
    pa_report r;
    perch_err err;
    const char *paths[] = {path};
    FILE *f = fopen(path, "ab");
    pid_t pid;
    int status = 0;
    if (!f)
        return;
    fputs("{\"seq\":99999999,\"time\":\"2024-", f);
    fclose(f);
    CHECK_INT(pa_verify(paths, 1, NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.status, PA_TRUNCATED);
    CHECK_INT(r.reason, PA_R_TORN);
    pid = fork();
    if (pid == 0)
        writer(path, 0);
    sleep_us(20000);
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_INT(pa_verify(paths, 1, NULL, &r, &err), PERCH_OK);
    CHECK(r.status == PA_VERIFIED || r.status == PA_TRUNCATED);
    CHECK_INT(r.reason == PA_R_NONE || r.reason == PA_R_TORN, 1);
}

static void test_kill_during_logging(void)
{
    char dir[] = "/tmp/perch-crash-XXXXXX";
    char path[64], cmd[96];
    if (!mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/run.log", dir);
    crash_rounds(path, 0, 5);
    torn_then_continue(path);
    snprintf(path, sizeof path, "%s/rot.log", dir);
    crash_rounds(path, 1024 * 1024, 5);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    srand((unsigned)time(NULL));
    RUN(test_kill_during_logging);
    return CHECK_DONE();
}
