/* Configuration: defaults, loading, every kind of error, --set, validation,
 * write/load round trip, and the key reference in doc/configuration.md. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"

static char temp_dir[256];

static void make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/shiftnas-test-config-XXXXXX",
             base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

static void remove_temp_dir(void)
{
    char path[512];
    static const char *const names[] = {"cfg.ini", "written.ini"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", temp_dir, names[i]);
        unlink(path);
    }
    rmdir(temp_dir);
}

/* Writes `text` to <temp>/<name> and returns the path (static storage). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static void assert_message_has(const char *needle)
{
    ck_assert_msg(strstr(sn_error_message(), needle) != NULL, "message '%s' lacks '%s'",
                  sn_error_message(), needle);
}

START_TEST(defaults_follow_the_key_table)
{
    sn_config a, b;
    memset(&a, 0xAB, sizeof a);
    memset(&b, 0xCD, sizeof b);
    sn_config_defaults(&a);
    sn_config_defaults(&b);
    /* padding and unused bytes are zeroed, so memcmp compares values */
    ck_assert_mem_eq(&a, &b, sizeof a);
    ck_assert_int_eq(a.seed, 1);
    ck_assert_int_eq(a.threads, 1);
    ck_assert_double_eq(a.progress_seconds, 10.0);
    ck_assert_str_eq(a.dataset, "fashion-mnist");
    ck_assert_str_eq(a.path, "/usr/share/datasets/fashion-mnist");
    ck_assert_int_eq(a.validation_size, 5000);
    ck_assert_int_eq(a.train_limit, 0);
    ck_assert_int_eq(a.test_limit, 0);
    ck_assert_int_eq(a.crop_padding, 0);
    ck_assert_int_eq(a.horizontal_flip, 0);
    ck_assert_str_eq(a.model_type, "cnn");
    ck_assert_int_eq(a.cnn_channels.count, 3);
    ck_assert_int_eq(a.cnn_channels.values[0], 32);
    ck_assert_int_eq(a.cnn_channels.values[2], 128);
    ck_assert_int_eq(a.cnn_channels.values[3], 0);
    ck_assert_int_eq(a.cnn_strides.count, 3);
    ck_assert_int_eq(a.cnn_strides.values[1], 2);
    ck_assert_int_eq(a.cnn_kernel, 3);
    ck_assert_str_eq(a.cnn_activation, "relu");
    ck_assert_int_eq(a.vit_patch, 7);
    ck_assert_int_eq(a.vit_embed_dim, 64);
    ck_assert_int_eq(a.vit_depth, 4);
    ck_assert_int_eq(a.vit_heads, 4);
    ck_assert_int_eq(a.vit_mlp_hidden, 128);
    ck_assert_double_eq(a.vit_dropout, 0.0);
    ck_assert_double_eq(a.vit_drop_path, 0.0);
    ck_assert_int_eq(a.epochs, 5);
    ck_assert_int_eq(a.max_steps, 0);
    ck_assert_int_eq(a.batch_size, 128);
    ck_assert_int_eq(a.eval_batch_size, 500);
    ck_assert_str_eq(a.optimizer, "adamw");
    ck_assert_double_eq(a.learning_rate, 0.002);
    ck_assert_double_eq(a.min_learning_rate, 0.0);
    ck_assert_double_eq(a.warmup_epochs, 0.5);
    ck_assert_double_eq(a.momentum, 0.9);
    ck_assert_int_eq(a.nesterov, 1);
    ck_assert_double_eq(a.beta1, 0.9);
    ck_assert_double_eq(a.beta2, 0.999);
    ck_assert_double_eq(a.epsilon, 1e-8);
    ck_assert_double_eq(a.weight_decay, 0.05);
    ck_assert_double_eq(a.label_smoothing, 0.1);
    ck_assert_double_eq(a.clip_norm, 0.0);
    ck_assert_double_eq(a.clip_value, 0.0);
    ck_assert_double_eq(a.bn_momentum, 0.1);
    ck_assert_str_eq(a.space_type, "cnn");
    ck_assert_int_eq(a.space_image_size, 0);
    ck_assert_int_eq(a.space_stage_channels.count, 3);
    ck_assert_int_eq(a.space_stage_channels.values[2], 64);
    ck_assert_int_eq(a.space_width_ratios.count, 3);
    ck_assert_double_eq(a.space_width_ratios.values[1], 0.75);
    ck_assert_int_eq(a.space_mlp_ratios.count, 3);
    ck_assert_int_eq(a.space_head_dim, 16);
    ck_assert_int_eq(sn_config_validate(&a), SN_OK);
}
END_TEST

START_TEST(key_table_is_consistent)
{
    int count = 0;
    const sn_config_key *keys = sn_config_keys(&count);
    ck_assert_int_eq(count, 111);
    for (int i = 0; i < count; i++) {
        ck_assert_msg(keys[i].description && strlen(keys[i].description) > 10,
                      "%s has no description", keys[i].name);
        ck_assert_msg((keys[i].type == SN_CONFIG_CHOICE) == (keys[i].choices != NULL),
                      "%s: choices iff a choice key", keys[i].name);
        ck_assert(keys[i].offset < sizeof(sn_config));
        for (int j = 0; j < i; j++) {
            ck_assert_msg(strcmp(keys[i].section, keys[j].section) != 0 ||
                              strcmp(keys[i].name, keys[j].name) != 0,
                          "%s defined twice", keys[i].name);
            ck_assert_msg(keys[i].offset != keys[j].offset, "%s and %s share a field",
                          keys[i].name, keys[j].name);
        }
    }
}
END_TEST

START_TEST(load_reads_every_type)
{
    make_temp_dir();
    const char *path = write_file("cfg.ini",
        "# every type of value\n"
        "[run]\n"
        "seed = 281474976710655\n"
        "progress_seconds = 2.5 ; an inline comment\n"
        "[data]\n"
        "dataset = hdf5\n"
        "path = /data/my sets/fm.h5\n"
        "  horizontal_flip = yes\n"          /* indented: still a key */
        "crop_padding = 4\n"
        "[cnn]\n"
        "channels =  8 , 16,24 \n"
        "strides = 1, 2, 2\n"
        "activation = hardswish\n"
        "[train]\n"
        "epochs = 3\n"
        "epochs = 7\n"                       /* last wins */
        "nesterov = OFF\n"
        "learning_rate = 1e-3\n"
        "; a comment line\n"
        "optimizer = sgd\n");
    sn_config c;
    sn_config_defaults(&c);
    ck_assert_int_eq(sn_config_set(&c, "run.threads=3"), SN_OK);
    ck_assert_int_eq(sn_config_load_file(&c, path), SN_OK);
    ck_assert_int_eq(c.seed, 281474976710655LL);
    ck_assert_double_eq(c.progress_seconds, 2.5);
    ck_assert_str_eq(c.dataset, "hdf5");
    ck_assert_str_eq(c.path, "/data/my sets/fm.h5");
    ck_assert_int_eq(c.horizontal_flip, 1);
    ck_assert_int_eq(c.crop_padding, 4);
    ck_assert_int_eq(c.cnn_channels.count, 3);
    ck_assert_int_eq(c.cnn_channels.values[0], 8);
    ck_assert_int_eq(c.cnn_channels.values[1], 16);
    ck_assert_int_eq(c.cnn_channels.values[2], 24);
    ck_assert_str_eq(c.cnn_activation, "hardswish");
    ck_assert_int_eq(c.epochs, 7);
    ck_assert_int_eq(c.nesterov, 0);
    ck_assert_double_eq(c.learning_rate, 1e-3);
    ck_assert_str_eq(c.optimizer, "sgd");
    ck_assert_int_eq(c.threads, 3); /* not in the file: the earlier value stays */
    ck_assert_int_eq(c.batch_size, 128);

    /* an empty file changes nothing */
    sn_config before;
    memcpy(&before, &c, sizeof before);
    ck_assert_int_eq(sn_config_load_file(&c, write_file("cfg.ini", "")), SN_OK);
    ck_assert_mem_eq(&c, &before, sizeof c);
    remove_temp_dir();
}
END_TEST

/* A file, the error's code, and what its message must name. */
typedef struct {
    const char *text;
    const char *needles[4];
} bad_file;

START_TEST(load_errors_name_file_line_and_key)
{
    static char long_path[700], long_line[1200];
    strcpy(long_path, "[data]\npath = /");
    memset(long_path + strlen(long_path), 'p', 511);
    strcat(long_path, "\n");
    strcpy(long_line, "[data]\npath = /");
    memset(long_line + strlen(long_line), 'q', 1100);
    const bad_file cases[] = {
        {"[trian]\nepochs = 3\n", {"cfg.ini:1:", "unknown section [trian]"}},
        {"[run]\nseed = 2\n[nothing]\n", {"cfg.ini:3:", "unknown section [nothing]"}},
        {"[train]\nepoch = 3\n", {"cfg.ini:2:", "unknown key 'epoch'", "[train]"}},
        {"seed = 3\n", {"cfg.ini:1:", "'seed'", "outside any [section]"}},
        {"[train]\n\nepochs = 3.5\n", {"cfg.ini:3:", "[train] epochs", "'3.5'", "1..10000"}},
        {"[train]\nepochs = 3x\n", {"cfg.ini:2:", "[train] epochs", "'3x'", "not an integer"}},
        {"[run]\nseed = 99999999999999999999\n", {"cfg.ini:2:", "[run] seed", "overflow"}},
        {"[run]\nseed = -1\n", {"[run] seed", "'-1'", "out of range", "0..281474976710655"}},
        {"[run]\nthreads = 257\n", {"cfg.ini:2:", "[run] threads", "'257'", "1..256"}},
        {"[train]\nlearning_rate = 0.1x\n", {"[train] learning_rate", "'0.1x'", "not a number"}},
        {"[train]\nlearning_rate = inf\n", {"[train] learning_rate", "not a finite number"}},
        {"[train]\nlearning_rate = 0\n", {"[train] learning_rate", "out of range", "..10"}},
        {"[data]\nhorizontal_flip = maybe\n", {"cfg.ini:2:", "[data] horizontal_flip", "'maybe'",
                                                "true|false"}},
        {"[train]\noptimizer = SGD\n", {"cfg.ini:2:", "[train] optimizer", "'SGD'", "sgd|adamw"}},
        {"[cnn]\nchannels = 32,,64\n", {"cfg.ini:2:", "[cnn] channels", "empty list element"}},
        {"[cnn]\nchannels =\n", {"[cnn] channels", "empty list"}},
        {"[cnn]\nchannels = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
         {"[cnn] channels", "too many entries", "1..16"}},
        {"[cnn]\nchannels = 0,8\n", {"[cnn] channels", "element out of range", "1..4096"}},
        {"[cnn]\nstrides = 1;2\n", {"[cnn] strides", "'1;2'", "comma-separated"}},
        {long_path, {"cfg.ini:2:", "[data] path", "too long", "511"}},
        {long_line, {"cfg.ini:2:", "line longer than"}},
        {"[train]\nepochs\n", {"cfg.ini:2:", "'epochs' is not a [section]"}},
        /* its own line is blamed, not the next key's */
        {"[train\nepochs = 3\n", {"cfg.ini:1:", "'[train' has no closing ']'"}},
        /* bytes from the file are escaped: the message stays one printable line */
        {"[train]\nepochs = \x01\xff\x1b[31m\n", {"cfg.ini:2:", "'\\x01\\xff\\x1b[31m'",
                                                   "not an integer"}},
        {"[tr\x1b" "ain]\n", {"cfg.ini:1:", "unknown section [tr\\x1bain]"}},
        {"[data]\n\x7f = 1\n", {"cfg.ini:2:", "unknown key '\\x7f'"}},
        {"[data]\nclasses = -1\n", {"cfg.ini:2:", "[data] classes", "0..16777216"}},
    };
    make_temp_dir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sn_config c, before;
        sn_config_defaults(&c);
        memcpy(&before, &c, sizeof before);
        sn_error_clear();
        const char *path = write_file("cfg.ini", cases[i].text);
        ck_assert_msg(sn_config_load_file(&c, path) == SN_ERR_CONFIG, "case %zu loaded", i);
        ck_assert_msg(strchr(sn_error_message(), '\n') == NULL, "case %zu: two lines", i);
        assert_message_has(path);
        for (int n = 0; n < 4 && cases[i].needles[n]; n++)
            assert_message_has(cases[i].needles[n]);
        ck_assert_msg(memcmp(&c, &before, sizeof c) == 0, "case %zu changed the config", i);
    }
    remove_temp_dir();

    sn_config c;
    sn_config_defaults(&c);
    ck_assert_int_eq(sn_config_load_file(&c, "/nonexistent/shiftnas.ini"), SN_ERR_IO);
    assert_message_has("/nonexistent/shiftnas.ini");
}
END_TEST

/* Sizes are capped before they are read: a directory, a file over the cap,
 * an endless line (a character device), a NUL byte. */
START_TEST(load_caps_sizes_before_reading)
{
    sn_config c, before;
    sn_config_defaults(&c);
    memcpy(&before, &c, sizeof before);
    make_temp_dir();
    ck_assert_int_eq(sn_config_load_file(&c, temp_dir), SN_ERR_CONFIG);
    assert_message_has("is a directory");

    char path[512];
    snprintf(path, sizeof path, "%s/cfg.ini", temp_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[train]\n", f);
    for (int i = 0; i < SN_CONFIG_FILE_MAX / 16 + 1; i++)
        fputs("; padding......\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(sn_config_load_file(&c, path), SN_ERR_CONFIG);
    assert_message_has("too large for a configuration file");

    /* a NUL byte: the line is not searched past it */
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite("[train]\nepochs = 3\0\n", 1, 20, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(sn_config_load_file(&c, path), SN_ERR_CONFIG);
    assert_message_has("cfg.ini:2: a NUL byte at column 11");
    remove_temp_dir();

    /* endless input that is not a regular file: stopped at once */
    ck_assert_int_eq(sn_config_load_file(&c, "/dev/zero"), SN_ERR_CONFIG);
    assert_message_has("/dev/zero:1: a NUL byte");
    char *endless = malloc(SN_CONFIG_FILE_MAX + 2);
    memset(endless, 'x', SN_CONFIG_FILE_MAX + 1);
    endless[SN_CONFIG_FILE_MAX + 1] = '\0';
    ck_assert_int_eq(sn_config_load_text(&c, endless, "stored"), SN_ERR_CONFIG);
    assert_message_has("stored:1: line longer than");
    for (size_t i = 0; i + 1 < SN_CONFIG_FILE_MAX + 1; i += 64) {
        endless[i] = '\n';
        endless[i + 1] = ';';
    }
    ck_assert_int_eq(sn_config_load_text(&c, endless, "stored"), SN_ERR_CONFIG);
    assert_message_has("stored: more than 1048576 bytes");
    free(endless);
    ck_assert_mem_eq(&c, &before, sizeof c);
}
END_TEST

START_TEST(set_overrides_and_reports)
{
    sn_config c;
    sn_config_defaults(&c);
    ck_assert_int_eq(sn_config_set(&c, "train.epochs=3"), SN_OK);
    ck_assert_int_eq(c.epochs, 3);
    ck_assert_int_eq(sn_config_set(&c, " cnn . channels =  4, 5 "), SN_OK);
    ck_assert_int_eq(c.cnn_channels.count, 2);
    ck_assert_int_eq(c.cnn_channels.values[1], 5);
    ck_assert_int_eq(sn_config_set(&c, "data.path=/a b/c=d"), SN_OK); /* first '=' splits */
    ck_assert_str_eq(c.path, "/a b/c=d");
    ck_assert_int_eq(sn_config_set(&c, "data.path=/x"), SN_OK);
    ck_assert_str_eq(c.path, "/x");
    ck_assert_int_eq(c.path[3], '\0'); /* the old longer text is cleared */
    ck_assert_int_eq(sn_config_set(&c, "train.clip_norm=1.5"), SN_OK);
    ck_assert_double_eq(c.clip_norm, 1.5);

    static const struct {
        const char *assignment, *needle, *shown; /* shown: as the message has it */
    } bad[] = {
        {"train.epochs=abc", "[train] epochs = 'abc'"},
        {"train.epoch=3", "unknown key 'epoch'"},
        {"trian.epochs=3", "unknown section [trian]"},
        {"epochs=3", "expected section.key=value"},
        {"train.epochs", "expected section.key=value"},
        {"model.type=resnet", "cnn|vit"},
        {"data.path=a ;b", "comment"},
        {"data.path=a\tb", "control character", "data.path=a\\x09b"},
        {"train.epochs=1\n2\n3", "'1\\x0a2\\x0a3'", "train.epochs=1\\x0a2\\x0a3"},
        {"tr\x01" "ain.epochs=1", "unknown section [tr\\x01ain]", "tr\\x01ain.epochs=1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_config before;
        memcpy(&before, &c, sizeof before);
        ck_assert_int_eq(sn_config_set(&c, bad[i].assignment), SN_ERR_CONFIG);
        assert_message_has("--set");
        assert_message_has(bad[i].shown ? bad[i].shown : bad[i].assignment);
        assert_message_has(bad[i].needle);
        ck_assert_ptr_null(strchr(sn_error_message(), '\n'));
        ck_assert_mem_eq(&c, &before, sizeof c);
    }
    /* an item over the cap is refused before it is copied, shown by its start */
    char *long_item = malloc(SN_CONFIG_LINE_MAX + 100);
    strcpy(long_item, "data.path=/");
    memset(long_item + 11, 'p', SN_CONFIG_LINE_MAX + 80);
    long_item[SN_CONFIG_LINE_MAX + 91] = '\0';
    ck_assert_int_eq(sn_config_set(&c, long_item), SN_ERR_CONFIG);
    assert_message_has("longer than 1024 characters");
    assert_message_has("pppp...'");
    free(long_item);
}
END_TEST

START_TEST(validate_checks_relations)
{
    static const struct {
        const char *sets[3];
        const char *needle;
    } cases[] = {
        {{"cnn.channels=8,16"}, "[cnn] strides"},
        {{"cnn.kernel=4"}, "must be odd"},
        {{"train.min_learning_rate=0.01"}, "exceeds [train] learning_rate"},
        {{"model.type=vit", "vit.heads=3"}, "[vit] embed_dim = 64: not divisible"},
        {{"train.warmup_epochs=6"}, "[train] warmup_epochs"},
        {{"train.optimizer=sgd", "train.momentum=0"}, "[train] nesterov"},
        {{"search.evolution_parents=20"}, "[search] evolution_parents"},
        {{"data.path="}, "[data] path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sn_config c;
        sn_config_defaults(&c);
        for (int s = 0; s < 3 && cases[i].sets[s]; s++)
            ck_assert_int_eq(sn_config_set(&c, cases[i].sets[s]), SN_OK);
        ck_assert_msg(sn_config_validate(&c) == SN_ERR_CONFIG, "case %zu is valid", i);
        assert_message_has(cases[i].needle);
    }
    /* a relation for the model not selected is not checked */
    sn_config c;
    sn_config_defaults(&c);
    ck_assert_int_eq(sn_config_set(&c, "vit.heads=3"), SN_OK);
    ck_assert_int_eq(sn_config_validate(&c), SN_OK);
    ck_assert_int_eq(sn_config_set(&c, "cnn.channels=8"), SN_OK);
    ck_assert_int_eq(sn_config_set(&c, "cnn.strides=2"), SN_OK);
    ck_assert_int_eq(sn_config_validate(&c), SN_OK);
    /* fields set directly by a program are range-checked too */
    c.batch_size = 0;
    ck_assert_int_eq(sn_config_validate(&c), SN_ERR_CONFIG);
    assert_message_has("[train] batch_size = 0");
    assert_message_has("1..65536");
    sn_config_defaults(&c);
    c.eval_batch_size = -5;
    ck_assert_int_eq(sn_config_validate(&c), SN_ERR_CONFIG);
    assert_message_has("[train] eval_batch_size");
    sn_config_defaults(&c);
    strcpy(c.optimizer, "adam");
    ck_assert_int_eq(sn_config_validate(&c), SN_ERR_CONFIG);
    assert_message_has("[train] optimizer");
}
END_TEST

/* Every key away from its default, awkward doubles included; writing and
 * loading must give back the identical struct. */
START_TEST(write_then_load_is_identity)
{
    static const char *const sets[] = {
        "run.seed=123456789012", "run.threads=7", "run.progress_seconds=0.30000000000000004",
        "run.metrics_interval_steps=25",
        "data.dataset=hdf5", "data.path=/data/with space/f.h5", "data.classes=100",
        "data.validation_size=1234",
        "data.train_limit=50000", "data.test_limit=999", "data.crop_padding=4",
        "data.horizontal_flip=on", "data.stream=on", "data.prefetch=off", "data.input_size=24",
        "data.train_crop=random-resized", "data.crop_scale=0.25,0.9", "data.crop_ratio=0.5,2",
        "data.eval_crop_fraction=0.875", "data.normalization=fixed", "data.mean=0.5,0.4",
        "data.std=0.2,0.3", "model.type=vit", "cnn.channels=3,5,7,11,13",
        "cnn.strides=1,1,2,2,4", "cnn.kernel=5", "cnn.activation=hardswish", "vit.patch=4",
        "vit.embed_dim=96", "vit.depth=6", "vit.heads=6", "vit.mlp_hidden=384",
        "vit.dropout=0.1", "vit.drop_path=0.123456789012345678", "space.type=vit",
        "space.image_size=32", "space.image_channels=3", "space.classes=100",
        "space.stem_channels=24", "space.stem_stride=2", "space.stem_kernel=5",
        "space.stage_channels=16,24,40,80", "space.stage_strides=1,2,2,2",
        "space.width_ratios=0.25,0.30000000000000004,1", "space.depths=2,3,4",
        "space.kernels=3,5,7", "space.expand_ratios=3,4.5,6", "space.patch=4",
        "space.head_dim=32", "space.embeds=96,128", "space.heads=1,2",
        "space.mlp_ratios=3.5,4", "train.epochs=30",
        "train.max_steps=1000000000000", "train.batch_size=256", "train.eval_batch_size=1000",
        "train.optimizer=sgd", "train.learning_rate=0.1", "train.min_learning_rate=1e-5",
        "train.warmup_epochs=1.25", "train.momentum=0.95", "train.nesterov=false",
        "train.beta1=0.85", "train.beta2=0.99", "train.epsilon=1.2345678901234567e-7",
        "train.weight_decay=5e-4", "train.label_smoothing=0", "train.clip_norm=1",
        "train.clip_value=0.7", "train.bn_momentum=0.01", "search.strategy=sandwich",
        "search.buckets=5", "search.bucket_step=1000000", "search.max_tries=17",
        "search.sandwich_random=3", "search.attentive_candidates=5",
        "search.attentive_mode=worst", "search.shift_statistic=variance",
        /* an architecture: ';' must survive the INI round trip (no inline comment) */
        "search.subnet=cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2",
        "search.shift_estimator=gumbel", "search.shift_interval=50", "search.shift_warmup=0.25",
        "search.shift_learning_rate=0.05", "search.shift_validation_images=256",
        "search.shift_gumbel_temperature=0.5", "search.shift_variance_temperature=0.02",
        "search.shift_frozen=true",
        "search.generator_lambda=3.5", "search.generator_learning_rate=0.003",
        "search.generator_hidden=32", "search.generator_embedding=8",
        "search.generator_temperature_start=4", "search.generator_temperature_end=0.25",
        "search.generator_extra_targets=2", "search.generator_task_interval=5",
        "search.evolution_population=20", "search.evolution_evaluations=100",
        "search.evolution_parents=5", "search.evolution_mutation_probability=0.3",
        "search.evolution_crossover_share=0.25", "search.evolution_validation_images=1000",
        "search.recalibration_batches=4", "search.evolution_recalibration_batches=3",
        "distributed.shards=16", "distributed.reduce=slab",
        "distributed.bucket_entries=4096", "distributed.check_interval=10",
        "checkpoint.interval_steps=250", "checkpoint.interval_seconds=120.5",
        "checkpoint.keep=5", "checkpoint.stop_after_seconds=3300",
    };
    int count = 0;
    const sn_config_key *keys = sn_config_keys(&count);
    sn_config a, defaults;
    sn_config_defaults(&a);
    sn_config_defaults(&defaults);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_msg(sn_config_set(&a, sets[i]) == SN_OK, "%s: %s", sets[i],
                      sn_error_message());
    ck_assert_int_eq(sn_config_validate(&a), SN_OK);
    for (int k = 0; k < count; k++) {
        size_t size = keys[k].type == SN_CONFIG_BOOL ? sizeof(int)
                      : keys[k].type == SN_CONFIG_TEXT || keys[k].type == SN_CONFIG_CHOICE
                          ? SN_CONFIG_TEXT_MAX
                      : keys[k].type == SN_CONFIG_INT_LIST   ? sizeof(sn_int_list)
                      : keys[k].type == SN_CONFIG_FLOAT_LIST ? sizeof(sn_float_list)
                                                             : sizeof(int64_t);
        ck_assert_msg(memcmp((char *)&a + keys[k].offset, (char *)&defaults + keys[k].offset,
                             size) != 0,
                      "[%s] %s still has its default", keys[k].section, keys[k].name);
    }

    make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/written.ini", temp_dir);
    for (int pass = 0; pass < 2; pass++) {
        const sn_config *source = pass == 0 ? &a : &defaults;
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(sn_config_write(source, f), SN_OK);
        ck_assert_int_eq(fclose(f), 0);
        sn_config b;
        sn_config_defaults(&b);
        if (pass == 1) /* start far from the defaults: the file must set every key */
            memcpy(&b, &a, sizeof b);
        ck_assert_msg(sn_config_load_file(&b, path) == SN_OK, "%s", sn_error_message());
        ck_assert_mem_eq(&b, source, sizeof b);
    }
    remove_temp_dir();

    /* the nice forms, where exact */
    char *text = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&text, &length);
    ck_assert_int_eq(sn_config_write(&a, memory), SN_OK);
    fclose(memory);
    ck_assert_ptr_nonnull(strstr(text, "\nlearning_rate = 0.1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nprogress_seconds = 0.30000000000000004\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nchannels = 3,5,7,11,13\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nwidth_ratios = 0.25,0.30000000000000004,1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nmlp_ratios = 3.5,4\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nhorizontal_flip = true\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nmax_steps = 1000000000000\n"));
    free(text);
}
END_TEST

static char *read_whole_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t capacity = 0, length = 0, got;
    do {
        if (capacity - length < 4096) {
            capacity = capacity * 2 + 4096;
            text = realloc(text, capacity + 1);
            ck_assert_ptr_nonnull(text);
        }
        got = fread(text + length, 1, capacity - length, f);
        length += got;
    } while (got > 0);
    fclose(f);
    text[length] = '\0';
    return text;
}

/* doc/configuration.md holds the generated reference between two markers,
 * and every key appears in its section's table: the docs cannot drift from
 * the key table. On a mismatch the generated text is left in the build
 * directory to paste. */
START_TEST(doc_matches_the_key_table)
{
    const char *source = getenv("SHIFTNAS_SOURCE_DIR");
    ck_assert_msg(source != NULL, "SHIFTNAS_SOURCE_DIR is not set (run through make check)");
    char path[1024];
    snprintf(path, sizeof path, "%s/doc/configuration.md", source);
    char *doc = read_whole_file(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);

    char *reference = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&reference, &length);
    ck_assert_int_eq(sn_config_write_reference(memory), SN_OK);
    fclose(memory);

    int count = 0;
    const sn_config_key *keys = sn_config_keys(&count);
    for (int k = 0; k < count; k++) {
        char heading[64], row[128];
        snprintf(heading, sizeof heading, "### [%s]\n", keys[k].section);
        snprintf(row, sizeof row, "\n| `%s` | ", keys[k].name);
        for (int pass = 0; pass < 2; pass++) {
            const char *text = pass == 0 ? reference : doc;
            const char *section = strstr(text, heading);
            ck_assert_msg(section != NULL, "%s lacks %s", pass ? path : "reference", heading);
            const char *next = strstr(section + 1, "### [");
            const char *found = strstr(section, row);
            ck_assert_msg(found && (!next || found < next), "%s lacks [%s] %s",
                          pass ? path : "reference", keys[k].section, keys[k].name);
        }
    }

    const char *begin_marker = "<!-- BEGIN sn_config_write_reference -->\n";
    const char *begin = strstr(doc, begin_marker);
    const char *end = strstr(doc, "<!-- END sn_config_write_reference -->");
    ck_assert_msg(begin && end && begin < end, "%s lacks the reference markers", path);
    begin += strlen(begin_marker);
    int same = (size_t)(end - begin) == length && memcmp(begin, reference, length) == 0;
    if (!same) {
        FILE *f = fopen("configuration-reference.md", "w");
        if (f) {
            fputs(reference, f);
            fclose(f);
        }
    }
    ck_assert_msg(same, "%s is out of date: paste configuration-reference.md (build directory) "
                        "between its markers", path);
    free(reference);
    free(doc);
}
END_TEST

/* A configuration read from text (a checkpoint's) equals the one it was
 * written from; first_difference names the first differing key, and skips
 * the result-neutral ones only when asked. */
START_TEST(text_round_trip_and_differences)
{
    sn_config a, b;
    sn_config_defaults(&a);
    ck_assert_int_eq(sn_config_set(&a, "train.epochs=7"), SN_OK);
    ck_assert_int_eq(sn_config_set(&a, "data.path=/elsewhere"), SN_OK);
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream(&text, &size);
    ck_assert_int_eq(sn_config_write(&a, memory), SN_OK);
    fclose(memory);
    sn_config_defaults(&b);
    ck_assert_int_eq(sn_config_load_text(&b, text, "stored"), SN_OK);
    free(text);
    ck_assert_ptr_null(sn_config_first_difference(&a, &b, 0));

    ck_assert_int_eq(sn_config_set(&b, "data.path=/moved"), SN_OK);
    ck_assert_int_eq(sn_config_set(&b, "checkpoint.keep=9"), SN_OK);
    const sn_config_key *key = sn_config_first_difference(&a, &b, 0);
    ck_assert_ptr_nonnull(key);
    ck_assert_str_eq(key->section, "data");
    ck_assert_str_eq(key->name, "path");
    ck_assert_ptr_null(sn_config_first_difference(&a, &b, 1)); /* both neutral */
    ck_assert_int_eq(sn_config_set(&b, "search.strategy=sandwich"), SN_OK);
    key = sn_config_first_difference(&a, &b, 1);
    ck_assert_ptr_nonnull(key);
    ck_assert_str_eq(key->name, "strategy");
    char value[SN_CONFIG_TEXT_MAX + 32];
    ck_assert_int_eq(sn_config_format_value(&b, key, value, sizeof value), SN_OK);
    ck_assert_str_eq(value, "sandwich");

    /* what may change on resume, and what may not */
    int count;
    const sn_config_key *keys = sn_config_keys(&count);
    int neutral = 0;
    for (int k = 0; k < count; k++) {
        int expected = strcmp(keys[k].section, "checkpoint") == 0 ||
                       (strcmp(keys[k].section, "data") == 0 &&
                        (strcmp(keys[k].name, "path") == 0 || strcmp(keys[k].name, "stream") == 0 ||
                         strcmp(keys[k].name, "prefetch") == 0)) ||
                       strcmp(keys[k].name, "progress_seconds") == 0 ||
                       strcmp(keys[k].name, "metrics_interval_steps") == 0 ||
                       (strcmp(keys[k].section, "distributed") == 0 &&
                        strcmp(keys[k].name, "shards") != 0);
        ck_assert_msg(sn_config_key_result_neutral(&keys[k]) == expected, "[%s] %s",
                      keys[k].section, keys[k].name);
        neutral += expected;
    }
    ck_assert_int_eq(neutral, 12);

    /* a malformed text is an error naming it */
    sn_config_defaults(&b);
    ck_assert_int_eq(sn_config_load_text(&b, "[train]\nepochs = many\n", "ckpt.h5 (stored)"),
                     SN_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "ckpt.h5 (stored)"));
    ck_assert_int_eq(sn_config_load_text(&b, "", "empty"), SN_OK);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("config");
    TCase *keys = tcase_create("keys");
    tcase_add_test(keys, defaults_follow_the_key_table);
    tcase_add_test(keys, key_table_is_consistent);
    suite_add_tcase(suite, keys);
    TCase *parsing = tcase_create("parsing");
    tcase_add_test(parsing, load_reads_every_type);
    tcase_add_test(parsing, load_errors_name_file_line_and_key);
    tcase_add_test(parsing, load_caps_sizes_before_reading);
    tcase_add_test(parsing, set_overrides_and_reports);
    tcase_add_test(parsing, validate_checks_relations);
    tcase_add_test(parsing, text_round_trip_and_differences);
    suite_add_tcase(suite, parsing);
    TCase *writing = tcase_create("writing");
    tcase_add_test(writing, write_then_load_is_identity);
    tcase_add_test(writing, doc_matches_the_key_table);
    suite_add_tcase(suite, writing);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
