/*
 * discover.c: which policy files apply. The user's file under
 * $XDG_CONFIG_HOME (or ~/.config), and the nearest .perch-policy.yaml from
 * the current directory up to the root. A file that exists is always read:
 * one that cannot be read or parsed stops the run rather than being
 * skipped, because a policy silently ignored widens every grant it narrowed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"

pp_env pp_env_current(char *cwd_buf, size_t cwd_cap)
{
    pp_env e;
    e.xdg_config_home = getenv("XDG_CONFIG_HOME");
    e.home = getenv("HOME");
    e.cwd = cwd_buf && getcwd(cwd_buf, cwd_cap) ? cwd_buf : NULL;
    return e;
}

void pp_set_free(pp_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        pp_policy_free(&s->files[i]);
    pb_free(s->files);
    s->files = NULL;
    s->count = 0;
}

perch_err_kind pp_set_add(pp_set *s, pp_policy *p, perch_err *err)
{
    pp_policy *f = pb_realloc(s->files, (s->count + 1) * sizeof *f);
    if (!f)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    s->files = f;
    s->files[s->count++] = *p;
    pp_policy_init(p);
    return PERCH_OK;
}

/* Whether path names something: false only when it does not exist. */
static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

/* Read path into the set when it exists. */
static perch_err_kind add_if_present(pp_set *s, const char *path, bool *found,
                                     perch_err *err)
{
    pp_policy p;
    perch_err_kind rc;
    *found = false;
    if (!exists(path))
        return PERCH_OK;
    *found = true;
    if ((rc = pp_read(path, &p, err)))
        return rc;
    if ((rc = pp_set_add(s, &p, err)))
        pp_policy_free(&p);
    return rc;
}

perch_err_kind pp_discover(const pp_env *env, pp_set *out, perch_err *err)
{
    pb_buf path = {0};
    perch_err_kind rc = PERCH_OK;
    bool found, ok = true;

    memset(out, 0, sizeof *out);
    /* XDG Base Directory: a relative XDG_CONFIG_HOME is invalid and ignored */
    if (env->xdg_config_home && env->xdg_config_home[0] == '/')
        ok = pb_buf_printf(&path, "%s/%s", env->xdg_config_home, PP_USER_NAME);
    else if (env->home && env->home[0])
        ok = pb_buf_printf(&path, "%s/.config/%s", env->home, PP_USER_NAME);
    if (!ok)
        goto nomem;
    if (path.len && (rc = add_if_present(out, (const char *)path.data, &found, err)))
        goto fail;

    if (env->cwd && env->cwd[0] == '/') {
        size_t dir;
        path.len = 0;
        if (!pb_buf_printf(&path, "%s", env->cwd))
            goto nomem;
        dir = path.len;
        while (dir > 1 && path.data[dir - 1] == '/')
            dir--;
        for (;;) {
            path.len = dir;
            if (!pb_buf_printf(&path, "%s%s", dir == 1 ? "" : "/", PP_LOCAL_NAME))
                goto nomem;
            if ((rc = add_if_present(out, (const char *)path.data, &found, err)))
                goto fail;
            if (found || dir == 1)
                break;
            /* up one directory: drop the last component and its slashes */
            while (dir > 1 && path.data[dir - 1] != '/')
                dir--;
            while (dir > 1 && path.data[dir - 1] == '/')
                dir--;
        }
    }
    pb_buf_free(&path);
    return PERCH_OK;
nomem:
    rc = pb_fail(err, PERCH_E_IO, "out of memory");
fail:
    pb_buf_free(&path);
    pp_set_free(out);
    return rc;
}
