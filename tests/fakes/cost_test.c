/* Unit tests for the Anlas cost rule of the fake (NOVELAI.md, "When an image costs Anlas"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cost.h"

static struct token opus = {.tier = 3, .active = true, .anlas = 1000};

static struct image_cost_input
portrait(unsigned steps, unsigned n_samples)
{
    return (struct image_cost_input){
        .width = 832, .height = 1216, .steps = steps, .n_samples = n_samples, .strength = 1.0};
}

static void
test_opus_first_sample_is_free(void **state)
{
    (void)state;
    struct image_cost_input in = portrait(28, 1);
    assert_int_equal(cost_image(&opus, &in), 0);
    in.n_samples = 2; /* 832x1216, 28 steps: ceil(2.986 + 16.30) = 20 per sample */
    assert_int_equal(cost_image(&opus, &in), 20);
}

static void
test_billed_when_outside_the_free_rule(void **state)
{
    (void)state;
    struct image_cost_input in = portrait(29, 1);
    assert_int_equal(cost_image(&opus, &in), 20);
    in = (struct image_cost_input){
        .width = 1088, .height = 1088, .steps = 28, .n_samples = 1, .strength = 1.0};
    assert_true(cost_image(&opus, &in) > 0); /* 1,183,744 pixels > 1,048,576 */
    struct token tablet = {.tier = 1, .active = true};
    in = portrait(28, 1);
    assert_int_equal(cost_image(&tablet, &in), 20);
    struct token lapsed = {.tier = 3, .active = false};
    assert_int_equal(cost_image(&lapsed, &in), 20);
}

static void
test_multipliers_and_minimum(void **state)
{
    (void)state;
    struct image_cost_input in = portrait(28, 1);
    in.smea = true;
    assert_int_equal(cost_sample(&in), 24);
    in.smea_dyn = true;
    assert_int_equal(cost_sample(&in), 28);
    in = (struct image_cost_input){
        .width = 64, .height = 64, .steps = 1, .n_samples = 1, .strength = 1.0};
    assert_int_equal(cost_sample(&in), 2); /* small images cost the minimum */
    in = portrait(28, 1);
    in.strength = 0.5;
    assert_int_equal(cost_sample(&in), 10);
}

static void
test_v5_needs_allowance(void **state)
{
    (void)state;
    struct image_cost_input in = portrait(28, 1);
    in.v5 = true;
    assert_int_equal(cost_image(&opus, &in), 0);
    struct token negative = {.tier = 3, .active = true, .v5_negative = true};
    assert_int_equal(cost_image(&negative, &in), 30);
}

static void
test_references_always_billed(void **state)
{
    (void)state;
    struct image_cost_input in = portrait(28, 1);
    in.refs = 2;
    assert_int_equal(cost_image(&opus, &in), 10);
}

static void
test_vibes_beyond_four_billed_on_v4(void **state)
{
    (void)state;
    struct image_cost_input in = portrait(28, 1);
    in.vibes = 4;
    assert_int_equal(cost_image(&opus, &in), 0);
    in.vibes = 6;
    assert_int_equal(cost_image(&opus, &in), 4);
    in.v3 = true;
    assert_int_equal(cost_image(&opus, &in), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opus_first_sample_is_free),
        cmocka_unit_test(test_billed_when_outside_the_free_rule),
        cmocka_unit_test(test_multipliers_and_minimum),
        cmocka_unit_test(test_v5_needs_allowance),
        cmocka_unit_test(test_references_always_billed),
        cmocka_unit_test(test_vibes_beyond_four_billed_on_v4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
