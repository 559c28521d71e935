/* An intrusive doubly-linked list: the node lives inside the element (no allocation), so an
 * element can leave the list in O(1) from wherever it is. A FIFO queue is push_back +
 * pop_front. The list owns nothing: elements belong to whoever put them there. */
#ifndef NP_LIST_H
#define NP_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct np_list_node {
    struct np_list_node *prev, *next;
} np_list_node;

/* A list is a ring through its head; an empty list points at itself. */
typedef struct {
    np_list_node head;
} np_list;

/* NP_CONTAINER_OF gives the element that holds node ptr as its member. */
#define NP_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
/* NP_LIST_ENTRY: the element of type holding node, which may be NULL (then NULL), and is
 * evaluated once (so NP_LIST_ENTRY(np_list_pop_front(l), ...) pops one). */
#define NP_LIST_ENTRY(node, type, member)                                                          \
    ((type *)np__list_container((node), offsetof(type, member)))

static inline void *
np__list_container(np_list_node *n, size_t off)
{
    return n == NULL ? NULL : (void *)((char *)n - off);
}

static inline void
np_list_init(np_list *l)
{
    l->head.prev = l->head.next = &l->head;
}

/* np_list_node_init marks a node as on no list (np_list_linked is false). */
static inline void
np_list_node_init(np_list_node *n)
{
    n->prev = n->next = NULL;
}

static inline bool
np_list_empty(const np_list *l)
{
    return l->head.next == &l->head;
}

/* np_list_linked tells whether a node (initialised by np_list_node_init) is on a list. */
static inline bool
np_list_linked(const np_list_node *n)
{
    return n->next != NULL;
}

static inline void
np__list_insert(np_list_node *n, np_list_node *prev, np_list_node *next)
{
    n->prev = prev;
    n->next = next;
    prev->next = n;
    next->prev = n;
}

static inline void
np_list_push_back(np_list *l, np_list_node *n)
{
    np__list_insert(n, l->head.prev, &l->head);
}

static inline void
np_list_push_front(np_list *l, np_list_node *n)
{
    np__list_insert(n, &l->head, l->head.next);
}

/* np_list_remove takes n off its list; n is then unlinked (np_list_linked is false). */
static inline void
np_list_remove(np_list_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* np_list_first / np_list_last: the first / last node, NULL when empty. */
static inline np_list_node *
np_list_first(const np_list *l)
{
    return np_list_empty(l) ? NULL : l->head.next;
}

static inline np_list_node *
np_list_last(const np_list *l)
{
    return np_list_empty(l) ? NULL : l->head.prev;
}

/* np_list_next: the node after n, NULL at the end. */
static inline np_list_node *
np_list_next(const np_list *l, const np_list_node *n)
{
    return n->next == &l->head ? NULL : n->next;
}

/* np_list_pop_front removes and returns the first node, NULL when empty. */
static inline np_list_node *
np_list_pop_front(np_list *l)
{
    np_list_node *n = np_list_first(l);
    if (n != NULL) {
        np_list_remove(n);
    }
    return n;
}

/* np_list_take moves every node of from to the end of to, in order; from is left empty. */
static inline void
np_list_take(np_list *to, np_list *from)
{
    if (np_list_empty(from)) {
        return;
    }
    np_list_node *first = from->head.next, *last = from->head.prev;
    first->prev = to->head.prev;
    to->head.prev->next = first;
    last->next = &to->head;
    to->head.prev = last;
    np_list_init(from);
}

/* NP_LIST_FOREACH walks the list; the body must not remove n (use NP_LIST_FOREACH_SAFE). */
#define NP_LIST_FOREACH(l, n) for (np_list_node *n = (l)->head.next; n != &(l)->head; n = n->next)
/* NP_LIST_FOREACH_SAFE walks the list; the body may remove (and free) n. */
#define NP_LIST_FOREACH_SAFE(l, n)                                                                 \
    for (np_list_node *n = (l)->head.next, *n##_next = n->next; n != &(l)->head;                   \
         n = n##_next, n##_next = n->next)

#endif
