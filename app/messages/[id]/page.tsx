import { MessagePage } from '@/components/live/message-page';

export const metadata = { title: 'Message · osloscope' };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <MessagePage id={decodeURIComponent(id)} />;
}
