/* Unit tests for the intrusive list: FIFO order, removal from the middle, splicing, and the
 * safe walk that frees as it goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "np/list.h"

typedef struct {
    int v;
    np_list_node link;
} item;

static int
pop_v(np_list *l)
{
    item *it = NP_LIST_ENTRY(np_list_pop_front(l), item, link);
    return it == NULL ? -1 : it->v;
}

static void
test_fifo(void **state)
{
    (void)state;
    np_list l;
    np_list_init(&l);
    assert_true(np_list_empty(&l));
    assert_null(np_list_pop_front(&l));
    item a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
    np_list_push_back(&l, &a.link);
    np_list_push_back(&l, &b.link);
    np_list_push_front(&l, &c.link);
    assert_ptr_equal(NP_LIST_ENTRY(np_list_last(&l), item, link), &b);
    assert_int_equal(pop_v(&l), 3);
    assert_int_equal(pop_v(&l), 1);
    assert_false(np_list_linked(&a.link));
    assert_int_equal(pop_v(&l), 2);
    assert_int_equal(pop_v(&l), -1);
    assert_true(np_list_empty(&l));
}

static void
test_remove_middle_and_walk(void **state)
{
    (void)state;
    np_list l;
    np_list_init(&l);
    item it[5];
    for (int i = 0; i < 5; i++) {
        it[i].v = i;
        np_list_push_back(&l, &it[i].link);
    }
    np_list_remove(&it[2].link);
    np_list_remove(&it[4].link); /* the last */
    int seen[5], n = 0;
    NP_LIST_FOREACH(&l, node)
    {
        seen[n++] = NP_CONTAINER_OF(node, item, link)->v;
    }
    assert_int_equal(n, 3);
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 3);
    assert_ptr_equal(np_list_next(&l, &it[1].link), &it[3].link);
    assert_null(np_list_next(&l, &it[3].link));
}

static void
test_take_and_safe_free(void **state)
{
    (void)state;
    np_list a, b;
    np_list_init(&a);
    np_list_init(&b);
    for (int i = 0; i < 4; i++) {
        item *it = malloc(sizeof(*it));
        assert_non_null(it);
        it->v = i;
        np_list_push_back(i < 2 ? &a : &b, &it->link);
    }
    np_list_take(&a, &b);
    assert_true(np_list_empty(&b));
    np_list_take(&a, &b); /* an empty source changes nothing */
    int expect = 0;
    NP_LIST_FOREACH_SAFE(&a, node)
    {
        item *it = NP_CONTAINER_OF(node, item, link);
        assert_int_equal(it->v, expect++);
        np_list_remove(node);
        free(it);
    }
    assert_int_equal(expect, 4);
    assert_true(np_list_empty(&a));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_remove_middle_and_walk),
        cmocka_unit_test(test_take_and_safe_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
