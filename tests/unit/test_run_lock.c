/* One writer per directory (shiftnas/run_lock.h): a second acquire is
 * refused with the holder's record, in this process and from another one;
 * the record is cleared on release; a killed holder's lock is free at once;
 * directories the lock created go again when nothing else was written; lock
 * files that are not regular files are refused. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shiftnas/error.h"
#include "shiftnas/run_lock.h"

static char temp_dir[256];

static void make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/shiftnas-lock-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
    sn_error_clear();
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void)info;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_temp_dir(void)
{
    nftw(temp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *temp_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", temp_dir, name);
    return out;
}

static size_t read_file(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t got = fread(out, 1, size - 1, f);
    out[got] = '\0';
    fclose(f);
    return got;
}

static int exists(const char *path)
{
    struct stat info;
    return lstat(path, &info) == 0;
}

START_TEST(second_writer_is_refused_with_the_holder)
{
    make_temp_dir();
    sn_run_lock *first = NULL, *second = NULL;
    ck_assert_int_eq(sn_run_lock_acquire(&first, temp_dir, "shiftnas train --resume", 0), SN_OK);
    ck_assert_ptr_null(sn_run_lock_unsupported(first)); /* this machine's /tmp has locks */
    char path[512], record[1024], want[256], host[256];
    read_file(temp_path(path, sizeof path, SN_RUN_LOCK_NAME), record, sizeof record);
    snprintf(want, sizeof want, "pid %ld\n", (long)getpid());
    ck_assert_msg(strncmp(record, want, strlen(want)) == 0, "record: %s", record);
    ck_assert_ptr_nonnull(strstr(record, "\ncommand shiftnas train --resume\n"));
    ck_assert_ptr_nonnull(strstr(record, "\nsince 2"));
    /* per open file: the same process is refused too */
    ck_assert_int_eq(sn_run_lock_acquire(&second, temp_dir, "shiftnas search", 0), SN_ERR_IO);
    ck_assert_ptr_null(second);
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(want, sizeof want, "%s: in use by `shiftnas train --resume` on host %s, pid %ld, since ",
             temp_dir, host, (long)getpid());
    ck_assert_msg(strncmp(sn_error_message(), want, strlen(want)) == 0, "%s", sn_error_message());
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "; wait for it or stop it"));
    sn_run_lock_release(first);
    ck_assert_uint_eq(read_file(path, record, sizeof record), 0); /* no record outlives its lock */
    ck_assert_int_eq(sn_run_lock_acquire(&second, temp_dir, "shiftnas search", 0), SN_OK);
    sn_run_lock_release(second);
    ck_assert(exists(path)); /* the file stays: removing it would let two writers in */
    sn_run_lock_release(NULL);
    remove_temp_dir();
}
END_TEST

/* A record is one printable line per field, whatever the command holds. */
START_TEST(record_is_printable)
{
    make_temp_dir();
    sn_run_lock *first = NULL, *second = NULL;
    ck_assert_int_eq(sn_run_lock_acquire(&first, temp_dir, "evil\ncommand x\033[2J", 0), SN_OK);
    ck_assert_int_eq(sn_run_lock_acquire(&second, temp_dir, "x", 0), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "`evil?command x?[2J`"));
    ck_assert_ptr_null(strchr(sn_error_message(), '\n'));
    sn_run_lock_release(first);
    remove_temp_dir();
}
END_TEST

/* Another process holds the lock; killed with SIGKILL, it holds nothing. */
START_TEST(killed_holder_frees_the_lock)
{
    make_temp_dir();
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        sn_run_lock *lock = NULL;
        char byte = sn_run_lock_acquire(&lock, temp_dir, "shiftnas train", 0) == SN_OK ? 'y' : 'n';
        if (write(ready[1], &byte, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char byte = 0;
    ck_assert_int_eq(read(ready[0], &byte, 1), 1);
    ck_assert_int_eq(byte, 'y');
    sn_run_lock *lock = NULL;
    ck_assert_int_eq(sn_run_lock_acquire(&lock, temp_dir, "shiftnas train --resume", 0), SN_ERR_IO);
    char want[64];
    snprintf(want, sizeof want, "pid %ld, since", (long)child);
    ck_assert_msg(strstr(sn_error_message(), want) != NULL, "%s", sn_error_message());
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert_int_eq(sn_run_lock_acquire(&lock, temp_dir, "shiftnas train --resume", 0), SN_OK);
    sn_run_lock_release(lock);
    close(ready[0]);
    close(ready[1]);
    remove_temp_dir();
}
END_TEST

START_TEST(created_directories_go_when_unused)
{
    make_temp_dir();
    char top[512], leaf[512], file[600];
    temp_path(top, sizeof top, "a");
    temp_path(leaf, sizeof leaf, "a/b/c");
    sn_run_lock *lock = NULL;
    ck_assert_int_eq(sn_run_lock_acquire(&lock, leaf, "shiftnas train", 0), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "does not exist"));
    ck_assert_int_eq(sn_run_lock_acquire(&lock, leaf, "shiftnas train", SN_RUN_LOCK_CREATE), SN_OK);
    ck_assert(exists(leaf));
    sn_run_lock_release(lock); /* nothing written: a, a/b, a/b/c go */
    ck_assert(!exists(top));
    ck_assert(exists(temp_dir));
    /* written into: everything stays */
    ck_assert_int_eq(sn_run_lock_acquire(&lock, leaf, "shiftnas train", SN_RUN_LOCK_CREATE), SN_OK);
    snprintf(file, sizeof file, "%s/config.ini", leaf);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    sn_run_lock_release(lock);
    ck_assert(exists(file));
    /* an existing directory is never removed */
    remove(file);
    ck_assert_int_eq(sn_run_lock_acquire(&lock, leaf, "shiftnas train", SN_RUN_LOCK_CREATE), SN_OK);
    sn_run_lock_release(lock);
    ck_assert(exists(leaf));
    remove_temp_dir();
}
END_TEST

START_TEST(odd_lock_files_are_refused)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, SN_RUN_LOCK_NAME);
    sn_run_lock *lock = NULL;
    ck_assert_int_eq(symlink("/etc/passwd", path), 0);
    ck_assert_int_eq(sn_run_lock_acquire(&lock, temp_dir, "shiftnas train", 0), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "cannot open the lock file"));
    remove(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(sn_run_lock_acquire(&lock, temp_dir, "shiftnas train", 0), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "not a regular file"));
    remove(path);
    ck_assert_int_eq(sn_run_lock_acquire(&lock, NULL, "shiftnas train", 0), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_run_lock_acquire(&lock, "", "shiftnas train", 0), SN_ERR_ARGUMENT);
    remove_temp_dir();
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("run_lock");
    TCase *lock = tcase_create("lock");
    tcase_set_timeout(lock, 30);
    tcase_add_test(lock, second_writer_is_refused_with_the_holder);
    tcase_add_test(lock, record_is_printable);
    tcase_add_test(lock, killed_holder_frees_the_lock);
    tcase_add_test(lock, created_directories_go_when_unused);
    tcase_add_test(lock, odd_lock_files_are_refused);
    suite_add_tcase(suite, lock);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
