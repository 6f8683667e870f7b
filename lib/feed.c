/* The parsed feed model: destructors. */
#include <stdlib.h>

#include "gazette/feed.h"

/* Free what an entry owns and leave it empty; NULL is fine. */
void
gz_entry_clear(struct gz_entry *e)
{
	if (e == NULL)
		return;
	free(e->id);
	free(e->title);
	free(e->link);
	free(e->summary);
	free(e->content);
	free(e->author);
	for (size_t i = 0; i < e->n_links; i++) {
		free(e->links[i].href);
		free(e->links[i].rel);
		free(e->links[i].type);
	}
	free(e->links);
	for (size_t i = 0; i < e->n_categories; i++)
		free(e->categories[i]);
	free(e->categories);
	for (size_t i = 0; i < e->n_enclosures; i++) {
		free(e->enclosures[i].url);
		free(e->enclosures[i].type);
		free(e->enclosures[i].length);
	}
	free(e->enclosures);
	*e = (struct gz_entry){.published = GZ_NO_DATE, .updated = GZ_NO_DATE};
}

/* Free a feed, its entries and everything they own; NULL is fine. */
void
gz_feed_free(struct gz_feed *f)
{
	if (f == NULL)
		return;
	free(f->title);
	free(f->link);
	free(f->subtitle);
	free(f->id);
	free(f->language);
	free(f->author);
	free(f->image);
	free(f->generator);
	free(f->bozo_message);
	for (size_t i = 0; i < f->n_entries; i++)
		gz_entry_clear(&f->entries[i]);
	free(f->entries);
	free(f);
}
