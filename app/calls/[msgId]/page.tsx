import { CallStoryPage } from '@/components/calls/call-story-page';

export const metadata = { title: 'Call · osloscope' };

export default async function Page({ params }: { params: Promise<{ msgId: string }> }) {
  const { msgId } = await params;
  return <CallStoryPage msgId={decodeURIComponent(msgId)} />;
}
